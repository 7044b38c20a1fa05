"""Checkers for Step 6.1, a character-level RNN in numpy (in the spirit of min-char-rnn).

Conventions shared with the notebook: ``params`` is a dict of float arrays ``Wxh`` (H, V),
``Whh`` (H, H), ``Why`` (V, H), ``bh`` (H,), ``by`` (V,); characters are integer ids in
``range(V)``; a hidden state is an (H,) vector.

Facts the checkers compare with: a plain forward pass written here (the definition of the
model), central-difference gradients of that forward pass on random small cases made here,
Adagrad's update rule on hand-picked numbers, sampling frequencies against the softmax they
should follow, and a held-out per-character loss measured here against a unigram baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

KEYS = ("Wxh", "Whh", "Why", "bh", "by")
Params = dict[str, np.ndarray]


# A reference model: the definition the learner's code is compared with -----------------------


def random_params(rng: np.random.Generator, vocab: int, hidden: int, scale: float = 0.5) -> Params:
    """Weights large enough that tanh' and the recurrent path both matter."""
    return {
        "Wxh": rng.normal(0, scale, (hidden, vocab)),
        "Whh": rng.normal(0, scale, (hidden, hidden)),
        "Why": rng.normal(0, scale, (vocab, hidden)),
        "bh": rng.normal(0, 0.2, hidden),
        "by": rng.normal(0, 0.2, vocab),
    }


def copy_params(params: Params) -> Params:
    return {k: np.array(v, dtype=float) for k, v in params.items()}


def forward(inputs: Any, targets: Any, h_prev: np.ndarray, p: Params) -> tuple[float, np.ndarray, np.ndarray]:
    """(summed cross-entropy, hs (T, H), ps (T, V)); a numerically stable softmax."""
    hs, ps, loss, h = [], [], 0.0, np.asarray(h_prev, dtype=float)
    for x, y in zip(inputs, targets, strict=True):
        h = np.tanh(p["Wxh"][:, x] + p["Whh"] @ h + p["bh"])  # (H,)
        logits = p["Why"] @ h + p["by"]  # (V,)
        logits = logits - logits.max()
        log_p = logits - np.log(np.exp(logits).sum())  # (V,)
        hs.append(h)
        ps.append(np.exp(log_p))
        loss -= float(log_p[y])
    return loss, np.array(hs), np.array(ps)


def backward_variant(
    inputs: Any,
    targets: Any,
    h_prev: np.ndarray,
    p: Params,
    *,
    dhnext: bool = True,
    tanh_h: bool = False,
    skip: int | None = None,
) -> Params:
    """Analytic gradients, right or with one named beginner mistake (used to diagnose only);
    ``skip`` leaves one step out of the backward loop, as ``range(1, T)`` or ``range(T - 1)`` do."""
    _, hs, ps = forward(inputs, targets, h_prev, p)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dh_next = np.zeros(hs.shape[1])
    for t in reversed(range(len(inputs))):
        if t == skip:
            continue
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        g["Why"] += np.outer(dy, hs[t])
        g["by"] += dy
        dh = p["Why"].T @ dy + (dh_next if dhnext else 0.0)
        draw = ((1 - hs[t]) if tanh_h else (1 - hs[t] ** 2)) * dh
        g["bh"] += draw
        g["Wxh"][:, inputs[t]] += draw
        g["Whh"] += np.outer(draw, hs[t - 1] if t > 0 else h_prev)
        dh_next = p["Whh"].T @ draw
    return g


def numerical_grads(inputs: Any, targets: Any, h_prev: np.ndarray, p: Params, eps: float = 1e-5) -> Params:
    """Central differences of the reference loss with respect to every parameter."""
    work = copy_params(p)
    grads = {}
    for k in KEYS:
        g = np.zeros_like(work[k])
        for i in np.ndindex(g.shape):
            old = work[k][i]
            work[k][i] = old + eps
            plus = forward(inputs, targets, h_prev, work)[0]
            work[k][i] = old - eps
            minus = forward(inputs, targets, h_prev, work)[0]
            work[k][i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads[k] = g
    return grads


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.linalg.norm(a)) + float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / max(scale, 1e-12)


def _case(seed: int, vocab: int, hidden: int, steps: int) -> tuple[list[int], list[int], np.ndarray, Params]:
    rng = np.random.default_rng(seed)
    params = random_params(rng, vocab, hidden)
    inputs = rng.integers(0, vocab, steps).tolist()
    targets = rng.integers(0, vocab, steps).tolist()
    h_prev = rng.normal(0, 0.5, hidden)
    return inputs, targets, h_prev, params


def _same(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=tol, rtol=tol))


def _tolerance(*arrays: Any) -> float:
    """1e-6 for float64 answers; float32 carries about 7 digits, so it gets 1e-4."""
    low = any(np.asarray(a).dtype.kind == "f" and np.asarray(a).dtype.itemsize < 8 for a in arrays)
    return 1e-4 if low else 1e-6


def _unchanged(before: Params, after: dict[str, Any], what: str) -> None:
    for k in KEYS:
        if not np.array_equal(before[k], after[k]):
            raise CheckFailed(f"{what} changed params[{k!r}] in place; it must only read the parameters")


def _describe(inputs: list[int], hidden: int, vocab: int) -> str:
    return f"T = {len(inputs)} steps, H = {hidden}, V = {vocab}"


# step6.rnn_forward ------------------------------------------------------------------------------


FORWARD_CASES = [(1, 5, 4, 1), (2, 6, 3, 7), (3, 8, 5, 12)]  # seed, V, H, T


def _forward_result(
    result: Any, what: str, steps: int, hidden: int, vocab: int
) -> tuple[float, np.ndarray, np.ndarray]:
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise CheckFailed(f"{what} returned {type(result).__name__}; expected a tuple (loss, hs, ps)")
    loss = as_array(result[0], f"{what}'s loss")
    if loss.size != 1:
        raise CheckFailed(f"{what}'s loss has shape {loss.shape}; expected one number (the sum over time)")
    hs = as_array(result[1], f"{what}'s hs")
    ps = as_array(result[2], f"{what}'s ps")
    expected = (("hs", hs, (steps, hidden), "(T, H)"), ("ps", ps, (steps, vocab), "(T, V)"))
    for name, arr, want, dims in expected:
        if arr.shape == want:
            continue
        rows = arr.shape[0] if arr.ndim else None
        why = ""
        if rows == steps + 1 and arr.shape[1:] == want[1:]:
            why = f" — one row too many: {name} holds the T steps only, not h_prev (min-char-rnn's hs[-1])"
        elif (rows == steps - 1 and arr.shape[1:] == want[1:]) or (steps == 1 and arr.size == 0):
            why = " — one step short: loop over all T inputs, range(T) (range(1, T) skips the first)"
        raise CheckFailed(f"{what}: {name} has shape {arr.shape}; expected {dims} = {want}{why}")
    return float(loss.reshape(())), hs, ps


@checker("step6.rnn_forward")
def check_rnn_forward(rnn_forward: Any) -> str:
    expect_callable(rnn_forward, "rnn_forward")
    for seed, vocab, hidden, steps in FORWARD_CASES:
        inputs, targets, h_prev, params = _case(seed, vocab, hidden, steps)
        given = copy_params(params)
        h_given = h_prev.copy()
        what = f"rnn_forward with {_describe(inputs, hidden, vocab)}"
        with np.errstate(all="ignore"):
            result = rnn_forward(inputs, targets, h_given, given)
            loss, hs, ps = _forward_result(result, what, steps, hidden, vocab)
        _unchanged(params, given, "rnn_forward")
        if not np.array_equal(h_given, h_prev):
            raise CheckFailed("rnn_forward changed h_prev in place; compute each new h as a new array")
        want_loss, want_hs, want_ps = forward(inputs, targets, h_prev, params)
        tol = _tolerance(*result)
        if not _same(hs, want_hs, tol):
            diagnoses = [
                (
                    forward(inputs, targets, np.zeros(hidden), params)[1],
                    "the first step must start from h_prev, not from zeros",
                ),
                (
                    forward(inputs, targets, h_prev, {**params, "Whh": params["Whh"].T})[1],
                    "Whh is transposed: use Whh @ h_prev",
                ),
                (
                    forward(inputs, targets, h_prev, {**params, "bh": 0 * params["bh"]})[1],
                    "the hidden bias bh is missing",
                ),
            ]
            why = next(
                (msg for alt, msg in diagnoses if _same(hs, alt, tol)),
                "h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)",
            )
            t = int(np.argmax(np.abs(hs - want_hs).max(axis=1)))
            raise CheckFailed(
                f"{what}: the hidden state at step t = {t} is off by up to "
                f"{np.abs(hs[t] - want_hs[t]).max():.3g} — {why}"
            )
        if not _same(ps, want_ps, tol):
            if not np.all(np.isfinite(ps)):
                raise CheckFailed(f"{what}: ps contains nan or inf; subtract the largest logit before exp")
            sums = ps.sum(axis=1)
            if not np.allclose(sums, 1.0, atol=tol):
                raise CheckFailed(
                    f"{what}: each row of ps should sum to 1 (a softmax); yours sum to {sums[0]:.4g}, ..."
                )
            raise CheckFailed(
                f"{what}: ps is off by up to {np.abs(ps - want_ps).max():.3g} — p_t = softmax(Why h_t + by)"
            )
        if not np.isclose(loss, want_loss, rtol=tol, atol=tol):
            why = "the loss is the sum over t of -log ps[t, targets[t]]"
            if np.isclose(loss, want_loss / steps, rtol=tol):
                why = "you averaged over time; this notebook (like min-char-rnn) sums the T losses"
            elif np.isclose(loss, -want_loss, rtol=tol):
                why = "the sign is flipped: the loss is -log p, a positive number"
            elif np.isclose(loss, -np.log(want_ps[np.arange(steps), inputs]).sum(), rtol=tol):
                why = "you scored the inputs; the target at step t is targets[t], the next character"
            raise CheckFailed(f"{what} returned loss {loss:.10g}; expected {want_loss:.10g} — {why}")

    # Softmax is shift-invariant: adding 1000 to every output bias must change nothing.
    inputs, targets, h_prev, params = _case(4, 6, 4, 5)
    shifted = {**copy_params(params), "by": params["by"] + 1000.0}
    with np.errstate(all="ignore"):
        result = rnn_forward(inputs, targets, h_prev.copy(), shifted)
        loss, hs, ps = _forward_result(result, "rnn_forward", 5, 4, 6)
    want_loss = forward(inputs, targets, h_prev, params)[0]
    # float32 holds 1000 + b only to about 6e-5, so a float32 answer may move in the 4th digit.
    tol = 1e-3 if _tolerance(*result) > 1e-6 else 1e-6
    if not (np.isfinite(loss) and np.all(np.isfinite(ps))):
        raise CheckFailed(
            f"with 1000 added to every output bias the loss became {loss:.6g} (expected {want_loss:.6g}, "
            "the same as without: softmax ignores a constant shift) — exp(1000) overflows; "
            "subtract the max logit first"
        )
    if not np.isclose(loss, want_loss, rtol=tol):
        raise CheckFailed(
            f"with 1000 added to every output bias the loss became {loss:.10g}; expected {want_loss:.10g}, "
            "the same as without — softmax ignores a constant shift: subtract the max of the logits "
            "(all of them, the bias included), not some other number"
        )
    return (
        f"loss, states and probabilities match on {len(FORWARD_CASES)} random cases; "
        "softmax survives logits of 1000"
    )


# step6.rnn_backward -----------------------------------------------------------------------------


BACKWARD_CASES = [(11, 4, 3, 1), (12, 5, 4, 4), (13, 6, 5, 9), (14, 3, 6, 15)]  # seed, V, H, T


@checker("step6.rnn_backward")
def check_rnn_backward(rnn_backward: Any) -> str:
    expect_callable(rnn_backward, "rnn_backward")
    worst = 0.0
    for seed, vocab, hidden, steps in BACKWARD_CASES:
        inputs, targets, h_prev, params = _case(seed, vocab, hidden, steps)
        given = copy_params(params)
        what = f"rnn_backward with {_describe(inputs, hidden, vocab)}"
        with np.errstate(all="ignore"):
            result = rnn_backward(inputs, targets, h_prev.copy(), given)
        if not isinstance(result, tuple | list) or len(result) != 3:
            raise CheckFailed(
                f"{what} returned {type(result).__name__}; expected a tuple (loss, grads, h_last)"
            )
        loss, grads, h_last = result
        _unchanged(params, given, "rnn_backward")
        want_loss, want_hs, _ = forward(inputs, targets, h_prev, params)
        tol = _tolerance(loss, h_last, *(grads.values() if isinstance(grads, dict) else ()))
        if not np.isclose(float(as_array(loss, f"{what}'s loss").sum()), want_loss, rtol=tol):
            raise CheckFailed(
                f"{what} returned loss {float(np.sum(loss)):.6g}; expected {want_loss:.6g} "
                "(fix rnn_forward first)"
            )
        h_last = as_array(h_last, f"{what}'s h_last")
        if not _same(h_last, want_hs[-1], tol):
            raise CheckFailed(
                f"{what}: h_last should be the hidden state after the last step, hs[-1], "
                "so the next sequence can start from it"
            )
        if not isinstance(grads, dict) or set(KEYS) - set(grads):
            raise CheckFailed(f"{what}: grads should be a dict with the keys {', '.join(KEYS)}")
        numeric = numerical_grads(inputs, targets, h_prev, params)
        for k in KEYS:
            g = as_array(grads[k], f"grads[{k!r}]")
            if g.shape != params[k].shape:
                raise CheckFailed(
                    f"{what}: grads[{k!r}] has shape {g.shape}; expected {params[k].shape}, "
                    f"the shape of params[{k!r}]"
                )
            err = rel_error(g, numeric[k])
            worst = max(worst, err)
            if err < tol:
                continue
            full = {kk: as_array(grads[kk], kk) for kk in KEYS}
            right = backward_variant(inputs, targets, h_prev, params)
            skipped = [
                t
                for t in sorted({0, steps - 1})
                if all(
                    _same(full[kk], v, tol)
                    for kk, v in backward_variant(inputs, targets, h_prev, params, skip=t).items()
                )
            ]
            if all(_same(full[kk], np.clip(v, -5, 5), tol) for kk, v in right.items()):
                largest = max(float(np.abs(v).max()) for v in right.values())
                why = (
                    f"your gradients stop at ±5, the true ones reach {largest:.3g}: "
                    "return the raw gradients; adagrad_update clips them (section 3)"
                )
            elif skipped:
                t = skipped[0]
                loop = "reversed(range(1, T)) does" if t == 0 else "reversed(range(T - 1)) does"
                if steps == 1:
                    loop = "range(1, T) and range(T - 1) do: both are empty when T = 1"
                why = (
                    f"your loop over time leaves out step t = {t} (as {loop}): "
                    "backpropagate through all T steps, for t in reversed(range(T)); "
                    "the formulas at the other steps are right"
                )
            elif all(
                _same(full[kk], v, tol)
                for kk, v in backward_variant(inputs, targets, h_prev, params, dhnext=False).items()
            ):
                why = (
                    "the gradient that flows back from h_t into h_(t-1) is missing: "
                    "add dhnext = Whh.T @ dh_raw "
                    "to dh at the step before (right for T = 1, wrong for longer sequences)"
                )
            elif all(
                _same(full[kk], v, tol)
                for kk, v in backward_variant(inputs, targets, h_prev, params, tanh_h=True).items()
            ):
                why = "tanh'(a) = 1 - tanh(a)² = 1 - h², not 1 - h"
            elif k == "Whh" and all(_same(full[kk], right[kk], tol) for kk in KEYS if kk != "Whh"):
                why = (
                    "every other gradient is right, so dh_raw is: dWhh sums outer(dh_raw_t, h_(t-1)), "
                    "the state *before* step t — h_prev itself at t = 0, not zeros and not h_t"
                )
            elif k in ("Why", "by"):
                why = "dy = ps[t] with 1 subtracted at targets[t]; dWhy += outer(dy, h_t), dby += dy"
            elif steps == 1:
                why = (
                    "with one step there is no recurrence yet: check dh = Why.T @ dy "
                    "and dh_raw = (1 - h²) * dh"
                )
            else:
                why = "it is right for T = 1; check what flows back through time (dhnext) and h_(t-1) in dWhh"
            raise CheckFailed(
                f"{what}: grads[{k!r}] disagrees with central differences "
                f"(relative error {err:.2g}, max difference {np.abs(g - numeric[k]).max():.3g}) — {why}"
            )
    return (
        f"gradients agree with central differences on {len(BACKWARD_CASES)} random cases, T = 1 to 15 "
        f"(worst relative error {worst:.1e})"
    )


# step6.adagrad_update --------------------------------------------------------------------------


def _adagrad(p: Params, g: Params, m: Params, lr: float, clip: float, eps_inside: bool) -> None:
    for k in p:
        gc = np.clip(g[k], -clip, clip)
        m[k] += gc * gc
        p[k] -= lr * gc / (np.sqrt(m[k] + 1e-8) if eps_inside else np.sqrt(m[k]) + 1e-8)


ADAGRAD_STEPS: list[tuple[Params, float, float]] = [  # grads, lr, clip
    ({"W": np.array([[0.5, 10.0, -20.0], [0.0, 0.2, -0.04]]), "b": np.array([1.0, -6.0])}, 0.1, 5.0),
    ({"W": np.array([[0.5, 1.0, 1.0], [0.0, -0.2, 0.04]]), "b": np.array([1.0, 1.0])}, 0.1, 5.0),
    ({"W": np.array([[2.0, -3.0, 0.5], [0.0, 0.3, 0.1]]), "b": np.array([-2.0, 0.5])}, 0.05, 1.0),
]
ADAGRAD_START: Params = {"W": np.array([[1.0, 2.0, -1.0], [0.5, 7.0, -3.0]]), "b": np.array([0.0, 1.0])}


def _fmt(a: np.ndarray) -> str:
    return str(np.round(np.asarray(a, dtype=float), 5).tolist())


@checker("step6.adagrad_update")
def check_adagrad_update(adagrad_update: Any) -> str:
    expect_callable(adagrad_update, "adagrad_update")
    params = copy_params(ADAGRAD_START)
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    wants = [(copy_params(params), copy_params(memory)) for _ in range(2)]  # eps inside / outside the sqrt
    for n, (grads, lr, clip) in enumerate(ADAGRAD_STEPS, start=1):
        before_p, before_m = copy_params(params), copy_params(memory)
        for (wp, wm), inside in zip(wants, (True, False), strict=True):
            _adagrad(wp, grads, wm, lr, clip, inside)
        what = f"call {n} of adagrad_update (lr={lr}, clip={clip})"
        with np.errstate(all="ignore"):
            adagrad_update(params, copy_params(grads), memory, lr, clip)
        if not isinstance(params.get("W"), np.ndarray) or set(params) != set(ADAGRAD_START):
            raise CheckFailed(f"after {what} params no longer holds the same arrays; update them in place")
        if all(np.array_equal(params[k], before_p[k]) for k in params):
            raise CheckFailed(
                f"{what} left every parameter unchanged — update in place (params[k] -= ..., "
                "memory[k] += ...); `param = param - step` only rebinds a local name"
            )
        want_p, want_m = wants[0]
        for k in params:
            if not np.all(np.isfinite(params[k])):
                raise CheckFailed(
                    f"{what}: params[{k!r}] became {_fmt(params[k])} where the gradient is 0 and the "
                    "memory still 0 — 0 / sqrt(0) is nan: add 1e-8 inside the square root"
                )
            g = grads[k]
            mem = memory[k]
            if not _same(mem, want_m[k], 1e-9):
                if _same(mem, before_m[k] + g * g, 1e-9):
                    why = (
                        "memory should add the *clipped* gradient squared: a gradient of "
                        f"{g.flat[np.argmax(np.abs(g))]:g} clipped to ±{clip:g} adds "
                        f"{min(np.abs(g).max(), clip) ** 2:g} — clip before the update"
                    )
                elif _same(mem, np.clip(g, -clip, clip) ** 2, 1e-9):
                    why = "memory should accumulate: memory[k] += g², not memory[k] = g²"
                else:
                    why = "memory[k] += clip(g)²"
                raise CheckFailed(
                    f"after {what} memory[{k!r}] is {_fmt(mem)}; expected {_fmt(want_m[k])} — {why}"
                )
            if not any(_same(params[k], wp[k], 1e-9) for wp, _ in wants):
                step = before_p[k] - params[k]
                gc = np.clip(g, -clip, clip)
                if np.abs(params[k]).max() <= clip + 1e-9 < np.abs(want_p[k]).max():
                    why = "clip the gradients, not the parameters"
                elif _same(step, lr * gc / (mem + 1e-8), 1e-9):
                    why = "the step divides by the square root of the memory: lr * g / sqrt(memory + 1e-8)"
                elif _same(step, -lr * gc / np.sqrt(mem + 1e-8), 1e-9):
                    why = "that is gradient ascent: subtract the step"
                elif _same(step, lr * g / np.sqrt(mem + 1e-8), 1e-9):
                    why = "use the clipped gradient in the step too"
                else:
                    why = "param -= lr * g / sqrt(memory + 1e-8), with g the clipped gradient"
                raise CheckFailed(
                    f"after {what} params[{k!r}] is {_fmt(params[k])}; expected {_fmt(want_p[k])} — {why}"
                )
    return f"{len(ADAGRAD_STEPS)} Adagrad steps right: clipping first, memory accumulating, in place"


# step6.sample_chars ----------------------------------------------------------------------------


def _zero_params(vocab: int, hidden: int) -> Params:
    return {
        "Wxh": np.zeros((hidden, vocab)),
        "Whh": np.zeros((hidden, hidden)),
        "Why": np.zeros((vocab, hidden)),
        "bh": np.zeros(hidden),
        "by": np.zeros(vocab),
    }


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return np.asarray(e / e.sum())


def _draw(
    sample: Any,
    params: Params,
    h: np.ndarray,
    seed_ix: int,
    n: int,
    temperature: float,
    seed: int,
    vocab: int,
) -> np.ndarray:
    h_given = h.copy()
    what = f"sample(params, h, seed_ix={seed_ix}, n={n}, temperature={temperature})"
    try:
        with np.errstate(all="ignore"):
            out = sample(copy_params(params), h_given, seed_ix, n, temperature, np.random.default_rng(seed))
    except ValueError as exc:
        if "nan" in str(exc).lower():
            raise CheckFailed(
                f"{what} raised ValueError: {exc} — with large logits exp overflows; "
                "subtract the largest logit before exp"
            ) from None
        raise
    if not np.array_equal(h_given, h):
        raise CheckFailed(f"{what} changed the caller's h in place; compute each new h as a new array")
    arr = np.asarray(out)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise CheckFailed(
            f"{what} returned {type(out).__name__} of shape {arr.shape}; expected {n} integer ids"
        )
    if arr.min() < 0 or arr.max() >= vocab:
        raise CheckFailed(
            f"{what} returned the id {arr.max() if arr.max() >= vocab else arr.min()}; ids are 0..{vocab - 1}"
        )
    return arr


@checker("step6.sample_chars")
def check_sample_chars(sample: Any) -> str:
    expect_callable(sample, "sample")
    vocab, hidden, n = 5, 3, 4000
    logits = np.array([2.0, 1.0, 0.0, -1.0, 0.5])
    for temperature, offset in ((1.0, 0.0), (0.5, 0.0), (2.0, 0.0), (1.0, 1000.0)):
        params = _zero_params(vocab, hidden)
        params["by"] = logits + offset  # the output no longer depends on h: p = softmax(by / T)
        got = _draw(sample, params, np.zeros(hidden), 0, n, temperature, 7, vocab)
        freq = np.bincount(got, minlength=vocab) / n
        want = _softmax(logits / temperature)
        z = np.abs(freq - want) / np.sqrt(want * (1 - want) / n)
        if z.max() < 5:
            continue
        plus = f" + {offset:g}" if offset else ""
        what = f"with output logits {logits.tolist()}{plus} and temperature {temperature}"
        shown = f"your frequencies {np.round(freq, 3).tolist()}, expected about {np.round(want, 3).tolist()}"
        if np.all(got == got[0]):
            why = (
                f"every one of the {n} draws was {int(got[0])}: that is argmax; draw with rng.choice(V, p=p)"
            )
        elif temperature != 1.0 and np.all(np.abs(freq - _softmax(logits * temperature)) < 0.03):
            why = (
                "divide the logits by the temperature: T < 1 sharpens the distribution (less random), "
                "T > 1 flattens it"
            )
        elif temperature != 1.0 and np.all(np.abs(freq - _softmax(logits)) < 0.03):
            why = "the temperature was ignored: p = softmax(logits / temperature)"
        else:
            why = "p = softmax((Why h + by) / temperature), then one draw from p per step"
        raise CheckFailed(f"{what}: {shown} — {why}")

    # The sampled character is fed back in: Wxh sends character i to hidden unit i+1 (mod V).
    vocab = hidden = 4
    shift = np.roll(np.eye(vocab), 1, axis=0)  # shift @ e_i = e_(i+1 mod V)
    chain = [1, 2, 3, 0, 1, 2, 3, 0]
    params = {**_zero_params(vocab, hidden), "Wxh": 10 * shift, "Why": 20 * np.eye(vocab)}
    got = _draw(sample, params, np.zeros(hidden), 0, 8, 1.0, 3, vocab).tolist()
    if got != chain:
        why = "feed each sampled character back in as the next input x"
        if got[:7] == chain[1:] or got[1:] == chain[:7] or got == [0, *chain[:7]]:
            why = "the first sampled character is the one that follows seed_ix: step the RNN before drawing"
        elif all(c == got[0] for c in got):
            why = "the input never changes: feed each sampled character back in as the next input"
        raise CheckFailed(
            f"an RNN that always predicts 'the next id after the input' gave {got} from seed 0; "
            f"expected {chain} — {why}"
        )

    # The hidden state is carried: Whh moves the state one unit along; the input plays no part.
    params = {**_zero_params(vocab, hidden), "Whh": 10 * shift, "Why": 20 * np.eye(vocab)}
    got = _draw(sample, params, np.eye(vocab)[0], 0, 8, 1.0, 3, vocab).tolist()
    if got != chain:
        why = (
            "carry h from one step to the next: h = tanh(Wxh x + Whh h + bh) uses the h of the previous step"
        )
        if all(c == got[0] for c in got):
            why = "the hidden state is reset at every step; keep the h of the previous step"
        raise CheckFailed(
            f"an RNN whose memory counts steps gave {got} from h = e_0; expected {chain} — {why}"
        )
    # seed_ix is the first input: from seed 2 the chain starts at 3.
    params = {**_zero_params(vocab, hidden), "Wxh": 10 * shift, "Why": 20 * np.eye(vocab)}
    got = _draw(sample, params, np.zeros(hidden), 2, 8, 1.0, 3, vocab).tolist()
    if got != [3, 0, 1, 2, 3, 0, 1, 2]:
        raise CheckFailed(
            f"an RNN that always predicts 'the next id after the input' gave {got} from seed_ix = 2; "
            "expected [3, 0, 1, 2, 3, 0, 1, 2] — the first input is seed_ix, not a fixed character"
        )
    _check_uses_rng(sample)
    return (
        f"frequencies match softmax(logits / T) for T = 0.5, 1, 2 ({n} draws each); "
        "input fed back from seed_ix, state carried, every draw from the rng given"
    )


def _check_uses_rng(sample: Any) -> None:
    """The draws come from the ``rng`` argument: the same seed repeats them, another seed does not."""
    vocab, hidden = 5, 3
    params = {**_zero_params(vocab, hidden), "by": np.zeros(vocab)}  # uniform: 200 draws, 5**200 outcomes
    runs = [_draw(sample, params, np.zeros(hidden), 0, 200, 1.0, seed, vocab) for seed in (5, 5, 6)]
    if not np.array_equal(runs[0], runs[1]):
        raise CheckFailed(
            "two calls with rng = np.random.default_rng(5) drew different characters — draw from the "
            "rng you are given (rng.choice(V, p=p)), not from np.random's global generator or a new "
            "default_rng() of your own; the same seed must give the same text"
        )
    if np.array_equal(runs[0], runs[2]):
        raise CheckFailed(
            "rng = np.random.default_rng(5) and default_rng(6) drew the same 200 characters — the rng "
            "argument is ignored: draw with rng.choice(V, p=p), and make a default_rng() only when rng "
            "is None"
        )


# step6.train_char_rnn ---------------------------------------------------------------------------


CHECK_ITERATIONS = 1500
CHECK_HIDDEN = 64
CHECK_TRAIN_CHARS = 200_000
CHECK_HELDOUT_CHARS = 20_000
MARGIN = 0.3  # nats per character below the unigram baseline


def _corpus() -> tuple[np.ndarray, np.ndarray, int]:
    """The checker's own split of the movie-review text: train on the start, hold out the end."""
    from dl7 import datasets

    text = datasets.text("movie-reviews")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    return ids[:CHECK_TRAIN_CHARS], ids[-CHECK_HELDOUT_CHARS:], len(chars)


def per_char_loss(params: Params, ids: np.ndarray, *, predict_current: bool = False) -> float:
    """Mean -log p(next character) over ``ids``, carrying the hidden state from the first character."""
    h = np.zeros(params["Whh"].shape[0])
    total = 0.0
    for t in range(len(ids) - 1):
        h = np.tanh(params["Wxh"][:, ids[t]] + params["Whh"] @ h + params["bh"])
        z = params["Why"] @ h + params["by"]
        z = z - z.max()
        target = ids[t] if predict_current else ids[t + 1]
        total -= float(z[target] - np.log(np.exp(z).sum()))
    return total / (len(ids) - 1)


def unigram_loss(train: np.ndarray, heldout: np.ndarray, vocab: int) -> float:
    """Cross-entropy of held-out characters under add-one-smoothed training frequencies."""
    counts = np.bincount(train, minlength=vocab) + 1.0
    return float(-np.log(counts[heldout[1:]] / counts.sum()).mean())


def _init(vocab: int, hidden: int, seed: int) -> Params:
    rng = np.random.default_rng(seed)  # the notebook's init_params, in its order
    return {
        "Wxh": rng.standard_normal((hidden, vocab)) * 0.01,
        "Whh": rng.standard_normal((hidden, hidden)) * 0.01,
        "Why": rng.standard_normal((vocab, hidden)) * 0.01,
        "bh": np.zeros(hidden),
        "by": np.zeros(vocab),
    }


def reference_train(
    data: np.ndarray,
    vocab: int,
    n_iter: int,
    hidden: int,
    seed: int,
    *,
    carry: bool = True,
    wrap: bool = True,
) -> Params:
    """The loop the notebook specifies (seq_length 25, lr 0.1); ``carry=False`` resets h every
    window, ``wrap=False`` keeps h at the wrap-around."""
    params, seq = _init(vocab, hidden, seed), 25
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    p, h = 0, np.zeros(hidden)
    for _ in range(n_iter):
        if p + seq + 1 > len(data):
            p, h = 0, (np.zeros(hidden) if wrap else h)
        inputs, targets = data[p : p + seq], data[p + 1 : p + seq + 1]
        grads = backward_variant(inputs, targets, h if carry else np.zeros(hidden), params)
        _, hs, _ = forward(inputs, targets, h if carry else np.zeros(hidden), params)
        _adagrad(params, grads, memory, 0.1, 5.0, True)
        h = hs[-1]
        p += seq
    return params


REPLAY_SEED, REPLAY_VOCAB, REPLAY_HIDDEN, REPLAY_ITER = 3, 6, 5, 5


def _check_replay(train: Callable[..., Any]) -> str | None:
    """Five iterations on 90 random ids (windows at 0, 25, 50, then a wrap-around), step by step
    against the loop the notebook specifies: the seed, the carried state and the wrap-around."""
    data = np.random.default_rng(61).integers(0, REPLAY_VOCAB, 90)
    what = (
        f"train(90 random ids, vocab_size={REPLAY_VOCAB}, n_iter={REPLAY_ITER}, "
        f"hidden_size={REPLAY_HIDDEN}, seed={REPLAY_SEED})"
    )
    with np.errstate(all="ignore"):
        result = train(data.copy(), REPLAY_VOCAB, REPLAY_ITER, hidden_size=REPLAY_HIDDEN, seed=REPLAY_SEED)
    if not isinstance(result, tuple | list) or len(result) != 2 or not isinstance(result[0], dict):
        raise CheckFailed(
            f"{what} returned {type(result).__name__}; expected a tuple (params, smooth_losses)"
        )
    got = result[0]
    if set(KEYS) - set(got):
        raise CheckFailed(f"{what}: params should be a dict with the keys {', '.join(KEYS)}")
    got = {k: as_array(got[k], f"params[{k!r}]") for k in KEYS}

    def matches(want: Params) -> bool:
        return all(_same(got[k], want[k], 1e-5) for k in KEYS)

    want = reference_train(data, REPLAY_VOCAB, REPLAY_ITER, REPLAY_HIDDEN, REPLAY_SEED)
    if matches(want):
        return None
    if any(
        matches(reference_train(data, REPLAY_VOCAB, REPLAY_ITER, REPLAY_HIDDEN, other))
        for other in (0, 1, 42)
        if other != REPLAY_SEED
    ):
        raise CheckFailed(
            f"{what} trained from the weights of another seed — the initial weights must come from "
            "init_params(vocab_size, hidden_size, np.random.default_rng(seed)), with the seed given"
        )
    if matches(reference_train(data, REPLAY_VOCAB, REPLAY_ITER, REPLAY_HIDDEN, REPLAY_SEED, carry=False)):
        raise CheckFailed(
            f"{what}: every window starts from h = zeros — the windows are consecutive text, so the "
            "state must be carried: pass the h that rnn_backward returned into the next window "
            "(reset it only when the pointer wraps around)"
        )
    if matches(reference_train(data, REPLAY_VOCAB, REPLAY_ITER, REPLAY_HIDDEN, REPLAY_SEED, wrap=False)):
        return (
            f"{what}: at the wrap-around (iteration 4, when p + seq_length + 1 > len(data)) the "
            "state must start again from zeros along with p = 0"
        )
    worst = max(KEYS, key=lambda k: float(np.abs(got[k] - want[k]).max()))
    return (
        f"{what}: params[{worst!r}] differs from the loop the exercise describes by up to "
        f"{float(np.abs(got[worst] - want[worst]).max()):.3g} — go through the bullet points again "
        "(init_params with default_rng(seed), windows of seq_length, h carried, adagrad_update)"
    )


@checker("step6.train_char_rnn")
def check_train_char_rnn(train: Callable[..., Any]) -> str:
    expect_callable(train, "train")
    replay = _check_replay(train)
    train_ids, heldout, vocab = _corpus()
    what = f"train(data, vocab_size={vocab}, n_iter={CHECK_ITERATIONS}, hidden_size={CHECK_HIDDEN})"
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        result = train(train_ids.copy(), vocab, CHECK_ITERATIONS, hidden_size=CHECK_HIDDEN, seed=0)
    seconds = time.perf_counter() - start
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise CheckFailed(
            f"{what} returned {type(result).__name__}; expected a tuple (params, smooth_losses)"
        )
    params, losses = result
    shapes = {
        "Wxh": (CHECK_HIDDEN, vocab),
        "Whh": (CHECK_HIDDEN, CHECK_HIDDEN),
        "Why": (vocab, CHECK_HIDDEN),
        "bh": (CHECK_HIDDEN,),
        "by": (vocab,),
    }
    if not isinstance(params, dict) or set(KEYS) - set(params):
        raise CheckFailed(f"{what}: params should be a dict with the keys {', '.join(KEYS)}")
    trained = {k: as_array(params[k], f"params[{k!r}]") for k in KEYS}
    for k, shape in shapes.items():
        if trained[k].shape != shape:
            raise CheckFailed(f"{what}: params[{k!r}] has shape {trained[k].shape}; expected {shape}")
        if not np.all(np.isfinite(trained[k])):
            raise CheckFailed(f"{what}: params[{k!r}] contains nan or inf")
    curve = as_array(losses, "smooth_losses").ravel()
    if curve.size != CHECK_ITERATIONS:
        raise CheckFailed(
            f"{what} returned {curve.size} smoothed losses; expected one per iteration ({CHECK_ITERATIONS})"
        )
    held = per_char_loss(trained, heldout)
    base = unigram_loss(train_ids, heldout, vocab)
    summary = (
        f"held-out loss {held:.3f} nats/char vs the unigram baseline {base:.3f} "
        f"(training's smoothed loss {curve[0]:.1f} → {curve[-1]:.1f} per {25} characters)"
    )
    if held < base - MARGIN and replay is not None:
        raise CheckFailed(f"{summary}, but {replay}")
    if held < base - MARGIN:
        return f"{summary}; a 5-iteration replay matches step by step; trained in {seconds:.1f} s"
    if per_char_loss(trained, heldout, predict_current=True) < held - 0.5:
        why = (
            "the model learned to predict the character it is reading, not the next one: "
            "targets = data[p + 1 : p + seq_length + 1], one ahead of the inputs"
        )
    elif curve[-1] < 0.8 * curve[0]:
        why = (
            "the training loss fell but the held-out loss did not: is the data pointer p moving on by "
            "seq_length each iteration, so training sees the whole text and not one window?"
        )
    else:
        why = (
            "the loss hardly fell: call rnn_backward, then adagrad_update on the same params dict, "
            "and carry h from one sequence to the next"
        )
    raise CheckFailed(f"{summary}; it should be at least {MARGIN} below the baseline — {why}")


# step6.truncated_bptt ---------------------------------------------------------------------------


SEQ_LENGTH = 25


@checker("step6.truncated_bptt")
def check_truncated_bptt(predictions: Any) -> str:
    if callable(predictions):  # the notebook passes a function, so its stub means "not done yet"
        predictions = predictions()
    if not isinstance(predictions, dict) or "longest_dependency" not in predictions:
        raise CheckFailed(
            f"predictions() should return a dict with the key 'longest_dependency'; got {predictions!r}"
        )
    value = predictions["longest_dependency"]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CheckFailed(
            f"predictions()['longest_dependency'] is {value!r}; expected a number of characters"
        )
    if not np.isfinite(float(value)) or float(value) > SEQ_LENGTH:
        raise CheckFailed(
            f"predictions()['longest_dependency'] is {value}: the hidden state does carry information "
            "across windows in the forward pass, but rnn_backward treats h_prev as a constant, so no "
            "gradient reaches an input before the window's first character — nothing teaches the "
            "weights to use it"
        )
    if float(value) == SEQ_LENGTH - 1:
        raise CheckFailed(
            f"predictions()['longest_dependency'] is {SEQ_LENGTH - 1}: that many multiplications by Whh "
            f"separate inputs[0] from the last state, but the last target is one character further "
            f"on — inputs[0] = data[p], targets[{SEQ_LENGTH - 1}] = data[p + {SEQ_LENGTH}]"
        )
    if float(value) != SEQ_LENGTH:
        raise CheckFailed(
            f"predictions()['longest_dependency'] is {value}; count from the first input of a window, "
            f"data[p], to the last character it is asked to predict, data[p + seq_length] "
            f"(seq_length = {SEQ_LENGTH})"
        )
    return (
        f"{SEQ_LENGTH} characters: from data[p] to data[p + {SEQ_LENGTH}], the last target of its "
        "window; the gradient stops at the window's start"
    )
