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
    inputs: Any, targets: Any, h_prev: np.ndarray, p: Params, *, dhnext: bool = True, tanh_h: bool = False
) -> Params:
    """Analytic gradients, right or with one named beginner mistake (used to diagnose only)."""
    _, hs, ps = forward(inputs, targets, h_prev, p)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dh_next = np.zeros(hs.shape[1])
    for t in reversed(range(len(inputs))):
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
            loss, hs, ps = _forward_result(
                rnn_forward(inputs, targets, h_given, given), what, steps, hidden, vocab
            )
        _unchanged(params, given, "rnn_forward")
        if not np.array_equal(h_given, h_prev):
            raise CheckFailed("rnn_forward changed h_prev in place; compute each new h as a new array")
        want_loss, want_hs, want_ps = forward(inputs, targets, h_prev, params)
        if not _same(hs, want_hs):
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
                (msg for alt, msg in diagnoses if _same(hs, alt)), "h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)"
            )
            t = int(np.argmax(np.abs(hs - want_hs).max(axis=1)))
            raise CheckFailed(
                f"{what}: the hidden state at step t = {t} is off by up to "
                f"{np.abs(hs[t] - want_hs[t]).max():.3g} — {why}"
            )
        if not _same(ps, want_ps):
            if not np.all(np.isfinite(ps)):
                raise CheckFailed(f"{what}: ps contains nan or inf; subtract the largest logit before exp")
            sums = ps.sum(axis=1)
            if not np.allclose(sums, 1.0):
                raise CheckFailed(
                    f"{what}: each row of ps should sum to 1 (a softmax); yours sum to {sums[0]:.4g}, ..."
                )
            raise CheckFailed(
                f"{what}: ps is off by up to {np.abs(ps - want_ps).max():.3g} — p_t = softmax(Why h_t + by)"
            )
        if not np.isclose(loss, want_loss, rtol=1e-6, atol=1e-8):
            why = "the loss is the sum over t of -log ps[t, targets[t]]"
            if np.isclose(loss, want_loss / steps, rtol=1e-6):
                why = "you averaged over time; this notebook (like min-char-rnn) sums the T losses"
            elif np.isclose(loss, -want_loss, rtol=1e-6):
                why = "the sign is flipped: the loss is -log p, a positive number"
            elif np.isclose(loss, -np.log(want_ps[np.arange(steps), inputs]).sum(), rtol=1e-6):
                why = "you scored the inputs; the target at step t is targets[t], the next character"
            raise CheckFailed(f"{what} returned loss {loss:.6g}; expected {want_loss:.6g} — {why}")

    # Softmax is shift-invariant: adding 1000 to every output bias must change nothing.
    inputs, targets, h_prev, params = _case(4, 6, 4, 5)
    shifted = {**copy_params(params), "by": params["by"] + 1000.0}
    with np.errstate(all="ignore"):
        loss, _, ps = _forward_result(
            rnn_forward(inputs, targets, h_prev.copy(), shifted), "rnn_forward", 5, 4, 6
        )
    want_loss = forward(inputs, targets, h_prev, params)[0]
    if not (np.isfinite(loss) and np.all(np.isfinite(ps))) or not np.isclose(loss, want_loss, rtol=1e-6):
        raise CheckFailed(
            f"with 1000 added to every output bias the loss became {loss:.6g} (expected {want_loss:.6g}, "
            "the same as without: softmax ignores a constant shift) — exp(1000) overflows; "
            "subtract the max logit first"
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
        if not np.isclose(float(as_array(loss, f"{what}'s loss").sum()), want_loss, rtol=1e-6):
            raise CheckFailed(
                f"{what} returned loss {float(np.sum(loss)):.6g}; expected {want_loss:.6g} "
                "(fix rnn_forward first)"
            )
        h_last = as_array(h_last, f"{what}'s h_last")
        if not _same(h_last, want_hs[-1]):
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
            if err < 1e-6:
                continue
            full = {kk: as_array(grads[kk], kk) for kk in KEYS}
            right = backward_variant(inputs, targets, h_prev, params)
            if all(_same(full[kk], np.clip(v, -5, 5)) for kk, v in right.items()):
                largest = max(float(np.abs(v).max()) for v in right.values())
                why = (
                    f"your gradients stop at ±5, the true ones reach {largest:.3g}: "
                    "return the raw gradients; adagrad_update clips them (section 3)"
                )
            elif all(
                _same(full[kk], v)
                for kk, v in backward_variant(inputs, targets, h_prev, params, dhnext=False).items()
            ):
                why = (
                    "the gradient that flows back from h_t into h_(t-1) is missing: "
                    "add dhnext = Whh.T @ dh_raw "
                    "to dh at the step before (right for T = 1, wrong for longer sequences)"
                )
            elif all(
                _same(full[kk], v)
                for kk, v in backward_variant(inputs, targets, h_prev, params, tanh_h=True).items()
            ):
                why = "tanh'(a) = 1 - tanh(a)² = 1 - h², not 1 - h"
            elif k == "Whh" and all(_same(full[kk], right[kk]) for kk in KEYS if kk != "Whh"):
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
    return (
        f"frequencies match softmax(logits / T) for T = 0.5, 1, 2 ({n} draws each); "
        "input fed back, state carried"
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


@checker("step6.train_char_rnn")
def check_train_char_rnn(train: Callable[..., Any]) -> str:
    expect_callable(train, "train")
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
    if held < base - MARGIN:
        return f"{summary}; trained in {seconds:.1f} s"
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
