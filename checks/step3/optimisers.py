"""Checkers for notebook 06: Adam, dropout and batch normalisation, written in numpy.

Facts, not a copy of a solution:

* Adam: Algorithm 1 of Kingma & Ba (arXiv 1412.6980), run here on random gradient sequences
  with several settings; and the property it is built for, that the first step moves every
  parameter by lr * sign(g) whatever the scale of g.
* Dropout: statistics over 10^5 draws (the fraction zeroed is p, the mean is preserved, every
  kept value is x / (1 - p)); inference is the exact identity; two calls draw two masks.
* Batch normalisation: values worked by hand, Algorithm 1 of Ioffe & Szegedy (arXiv
  1502.03167) with the biased batch variance, and Keras' moving averages
  (moving = moving * momentum + batch * (1 - momentum)). Both the biased variance and that
  update were verified against ``keras.layers.BatchNormalization`` (Keras 3.15): its training
  output and its moving variance both use the variance divided by N.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import expect_callable, expect_close, expect_shape

from ._common import seeded_rng, unpack_pair

# ------------------------------------------------------------------------------------- Adam


def _paper_adam(
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    form: str = "algorithm 1",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One step of Algorithm 1 in Kingma & Ba: the reference every answer is compared with. With
    ``form="section 2"``, the paper's equivalent form (the corrections folded into the step size,
    eps added to sqrt(v) rather than to sqrt(v_hat)), which differs only in where eps sits."""
    t = t + 1
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    if form == "section 2":
        alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        return w - alpha * m / (np.sqrt(v) + eps), m, v, t
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v, t


_FORMS = {"algorithm 1": "Algorithm 1", "section 2": "the section-2 form"}


def _fresh_state(w: np.ndarray) -> dict[str, Any]:
    return {"m": np.zeros_like(w), "v": np.zeros_like(w), "t": 0}


def _call_adam(
    adam_step: Callable[..., Any], w: np.ndarray, g: np.ndarray, state: dict[str, Any], what: str, **kw: float
) -> tuple[np.ndarray, dict[str, Any]]:
    given = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in state.items()}
    new_w, new_state = unpack_pair(adam_step(w.copy(), g.copy(), given, **kw), what, "(w, state)")
    new_w = expect_shape(new_w, w.shape, f"{what}: the new w")
    if not isinstance(new_state, dict) or not {"m", "v", "t"} <= set(new_state):
        raise CheckFailed(
            f"{what} returned a state without the keys 'm', 'v' and 't'; return the new state dict"
        )
    copied = {
        "m": expect_shape(new_state["m"], w.shape, f"{what}: state['m']").copy(),
        "v": expect_shape(new_state["v"], w.shape, f"{what}: state['v']").copy(),
        "t": new_state["t"],
    }
    return new_w.copy(), copied


def _first_step_diagnosis(g: np.ndarray, step: np.ndarray, lr: float) -> str | None:
    """Name the cause when a first step from zero state matches a known slip."""
    ratio = np.abs(step) / lr  # (n,) the step in units of lr; Adam's is 1 for every component
    sign_ok = np.all(np.sign(step) == -np.sign(g))
    if np.all(step < 0) and np.any(g > 0) and np.any(g < 0) and np.allclose(ratio, np.abs(g), rtol=1e-3):
        return (
            "every parameter moved down by lr * |g|, even where g < 0 — m averaged g**2; "
            "m is the average of g (with its sign), v the average of g**2"
        )
    if np.allclose(ratio, 1, rtol=1e-3) and np.all(np.sign(step) == np.sign(g)):
        return "each step went WITH the gradient (uphill); subtract the update from w"
    if not sign_ok:
        return None
    if np.allclose(step, -lr * g / np.sqrt(g * g + 1e-8), rtol=1e-6):
        return (
            "eps went inside the root; Algorithm 1 has m_hat / (sqrt(v_hat) + eps) "
            "(inside, sqrt(1e-8) = 1e-4 shrinks the steps of gradients near 1e-4 and below)"
        )
    if np.allclose(ratio * np.abs(g), 1, rtol=2e-2):
        return (
            "the step is lr / |g|, so it depends on the gradient's scale — divide m_hat by the "
            "SQUARE ROOT of v_hat (the root makes the step scale-free)"
        )
    known = {
        math.sqrt(1000) / 10: "no bias correction at all: m = 0.1 g and v = 0.001 g**2 after one step, "
        "so the step is 0.1 / sqrt(0.001) = 3.16 lr; divide m by (1 - beta1**t) and v by (1 - beta2**t)",
        math.sqrt(1000): "v was not bias-corrected: after one step v = 0.001 g**2, so the step is "
        "1 / sqrt(0.001) = 31.6 lr; divide v by (1 - beta2**t)",
        0.1: "m was not bias-corrected (m = 0.1 g after one step, so the step is 0.1 lr); "
        "divide m by (1 - beta1**t)",
        1e-3 / lr: "the step is 0.001 whatever lr is — use the lr you are given",
    }
    for r, why in known.items():
        if np.allclose(ratio, r, rtol=2e-3):
            return why
    return None


@checker("step3.adam_step")
def check_adam_step(adam_step: Callable[..., Any]) -> str:
    expect_callable(adam_step, "adam_step")
    lr = 0.02
    w = np.array([0.5, -1.0, 2.0, 1.5])  # (4,)
    g = np.array([1e-3, -1.0, 1e3, -50.0])  # (4,) four gradients on very different scales
    what = "adam_step(w, g=[0.001, -1, 1000, -50], fresh state, lr=0.02)"
    new_w, state = _call_adam(adam_step, w, g, _fresh_state(w), what, lr=lr)
    if not np.all(np.isfinite(new_w)):
        raise CheckFailed(
            f"{what} returned w = {new_w}: 1 - beta1**t is 0 when t = 0, so the bias correction "
            "divides by zero. Count the step first (t = t + 1), then correct: the first step is t = 1"
        )
    w0, g0 = np.array([1.0, 2.0]), np.array([0.0, 3.0])  # a zero gradient must not move its parameter
    what0 = "adam_step(w=[1, 2], g=[0, 3], fresh state)"
    new0, _ = _call_adam(adam_step, w0, g0, _fresh_state(w0), what0, lr=0.01)
    if not np.all(np.isfinite(new0)):
        raise CheckFailed(
            f"{what0} returned {new0}: a zero gradient gives m_hat = v_hat = 0 and 0 / 0 — "
            "add eps to the denominator: m_hat / (sqrt(v_hat) + eps)"
        )
    if abs(new0[0] - 1.0) > 1e-9:
        raise CheckFailed(f"{what0} moved w[0] to {new0[0]:.6g}; a zero gradient leaves its parameter at 1")

    step = new_w - w  # (4,) how far each parameter moved
    want_w, want_m, want_v, _ = _paper_adam(w, g, np.zeros(4), np.zeros(4), 0, lr, 0.9, 0.999, 1e-8)
    folded = _paper_adam(w, g, np.zeros(4), np.zeros(4), 0, lr, 0.9, 0.999, 1e-8, form="section 2")[0]
    form = "algorithm 1"
    if np.allclose(new_w, folded, atol=1e-12, rtol=1e-10) and not np.allclose(
        new_w, want_w, atol=1e-12, rtol=1e-10
    ):
        form = "section 2"  # the paper's own equivalent form: accepted, and followed below
    elif not np.allclose(new_w, want_w, atol=1e-9, rtol=1e-7):
        why = _first_step_diagnosis(g, step, lr)
        moved = ", ".join(f"{s:+.6g}" for s in step)
        raise CheckFailed(
            f"{what} moved the parameters by [{moved}]; the first Adam step moves each one by "
            f"about lr = 0.02 against the sign of its gradient, whatever the gradient's size"
            + (f" — {why}" if why else "")
        )
    if state["t"] != 1:
        raise CheckFailed(f"{what} returned state['t'] = {state['t']!r}; after one step t is 1")
    expect_close(
        state["m"], want_m, f"{what}: state['m']", hint="m = beta1 * m + (1 - beta1) * g, NOT bias-corrected"
    )
    expect_close(
        state["v"],
        want_v,
        f"{what}: state['v']",
        hint="v = beta2 * v + (1 - beta2) * g**2, NOT bias-corrected (keep m_hat and v_hat out of the state)",
    )
    rng = seeded_rng()
    settings = [
        {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        {"lr": 0.1, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
        {"lr": 0.05, "beta1": 0.5, "beta2": 0.9, "eps": 1e-3},
    ]
    for s in settings:
        w = rng.normal(0, 1, 6)  # (6,)
        scales = np.array([1e-4, 1e-2, 1.0, 1.0, 1e2, 1e4])  # (6,) one gradient scale per parameter
        state, ref = _fresh_state(w), (w.copy(), np.zeros(6), np.zeros(6), 0)
        label = ", ".join(f"{k}={v:g}" for k, v in s.items())
        for k in range(1, 61):
            g = rng.normal(0.3, 1, 6) * scales  # (6,) a noisy gradient with a drift
            ref = _paper_adam(
                ref[0], g, ref[1], ref[2], ref[3], s["lr"], s["beta1"], s["beta2"], s["eps"], form=form
            )
            what = f"adam_step with {label}, step {k} of 60 on random gradients"
            w, state = _call_adam(adam_step, w, g, state, what, **s)
            if state["t"] != k:
                raise CheckFailed(f"{what} returned state['t'] = {state['t']!r}; expected {k} (one per step)")
            expect_close(
                w,
                ref[0],
                f"{what}: w",
                atol=1e-10,
                rtol=1e-6,
                hint=f"compared with {_FORMS[form]} of Kingma & Ba; use beta1, beta2 and eps as passed in",
            )
            expect_close(state["m"], ref[1], f"{what}: state['m']", atol=1e-12, rtol=1e-6)
            expect_close(state["v"], ref[2], f"{what}: state['v']", atol=1e-12, rtol=1e-6)
    return (
        "first step = lr * sign(g) for gradients from 0.001 to 1000, and 180 steps match "
        + _FORMS[form]
        + " of Kingma & Ba under three settings"
    )


# ---------------------------------------------------------------------------------- dropout


@checker("step3.dropout")
def check_dropout(dropout: Callable[..., Any]) -> str:
    expect_callable(dropout, "dropout")
    rng = seeded_rng()
    x = rng.normal(0, 1, (4, 6))  # (4, 6)
    what = "dropout(x, p=0.5, training=False, rng)"
    out = expect_shape(dropout(x.copy(), 0.5, False, np.random.default_rng(1)), x.shape, what)
    if not np.array_equal(out, x):
        if np.allclose(out, 0.5 * x):
            why = "you scaled by (1 - p) at inference; with inverted dropout all scaling happens in training"
        elif np.any((out == 0) & (x != 0)):
            n = int(np.sum((out == 0) & (x != 0)))
            why = f"{n} of 24 values were dropped: nothing is dropped at inference"
        else:
            why = "inference must return x exactly as it came in"
        raise CheckFailed(f"{what} changed x — {why}")

    ones = np.ones((1000, 100))  # (1000, 100) 10^5 ones: the statistics below have sd ~0.0015
    p = 0.3
    what = "dropout(np.ones((1000, 100)), p=0.3, training=True, rng)"
    out = expect_shape(dropout(ones.copy(), p, True, np.random.default_rng(2)), ones.shape, what)
    dropped = float(np.mean(out == 0))
    if 0 < dropped < 1 and np.all((out == 0) == (out[:1] == 0)):
        raise CheckFailed(
            f"{what}: every row has the same units dropped — draw one keep/drop decision per value, "
            "a mask of x's full shape, not one per feature"
        )
    if abs(dropped - p) > 0.01:
        why = (
            " — p is the probability to DROP a unit (Keras' rate); keep each one with probability 1 - p"
            if abs(dropped - (1 - p)) < 0.01
            else ""
        )
        raise CheckFailed(f"{what} set {dropped:.1%} of the values to 0; expected about 30%{why}")
    kept = out[out != 0]  # (about 70,000,) every kept 1, rescaled
    if kept.size and np.allclose(kept, 1.0):
        raise CheckFailed(
            f"{what}: the kept values are 1 and the mean is {out.mean():.3f}, not 1 — divide what you "
            "keep by (1 - p) so the layer's expected output is the same in training and at inference"
        )
    if kept.size and np.allclose(kept, 1 - p):
        raise CheckFailed(
            f"{what}: the kept values are {kept[0]:.4g} and the mean is {out.mean():.3f} — you multiplied "
            "by (1 - p); DIVIDE by (1 - p) instead (1 / 0.7 = 1.4286)"
        )
    expect_close(kept, np.full(kept.shape, 1 / (1 - p)), f"{what}: the kept values", atol=1e-12, rtol=1e-12)
    mean = float(out.mean())
    if abs(mean - 1) > 0.01:
        raise CheckFailed(f"{what} has mean {mean:.4f}; expected 1 within 0.01 (the mean must be preserved)")

    x = rng.normal(0, 1, (64, 32))  # (64, 32)
    kept_x = x.copy()
    gen = np.random.default_rng(3)
    what = "dropout(x of shape (64, 32), p=0.5, training=True, rng)"
    first = expect_shape(dropout(x, 0.5, True, gen), x.shape, what)
    if not np.array_equal(x, kept_x):
        raise CheckFailed(f"{what} changed the x you passed in; build a new array (x * mask / (1 - p))")
    ok = (first == 0) | np.isclose(first, 2 * x, rtol=1e-12, atol=0)
    if not np.all(ok):
        i = np.unravel_index(int(np.argmin(ok)), x.shape)
        raise CheckFailed(
            f"{what}: at {tuple(int(k) for k in i)} x is {x[i]:.6g} and you returned {first[i]:.6g}; "
            "every value must be 0 or x / (1 - p)"
        )
    second = expect_shape(dropout(x, 0.5, True, gen), x.shape, "a second call with the same rng")
    if np.array_equal(first == 0, second == 0):
        raise CheckFailed(
            "two calls of dropout with the same rng dropped exactly the same units — draw a fresh mask "
            "from the rng you are given on every call (a seed fixed inside dropout repeats the mask)"
        )
    again = expect_shape(dropout(x, 0.5, True, np.random.default_rng(3)), x.shape, "a call with rng seeded 3")
    if not np.array_equal(first == 0, again == 0):
        raise CheckFailed(
            "two calls of dropout, each with np.random.default_rng(3), dropped different units: draw the "
            "mask from the rng you are given (rng.random(x.shape)), not from np.random's global state, "
            "so a seeded run can be repeated"
        )
    what = "dropout(x, p=0.0, training=True, rng)"
    expect_close(dropout(x.copy(), 0.0, True, gen), x, what, atol=0, rtol=1e-12, hint="p = 0 drops nothing")
    return f"{dropped:.2%} dropped at p = 0.3, mean {mean:.4f}, kept values 1/0.7, inference unchanged"


# --------------------------------------------------------------------------- batch norm

HAND_X = [[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]]  # column means 3 and 20, biased variances 8/3 and 200/3
HAND_Y = [[-math.sqrt(1.5), -math.sqrt(1.5)], [0.0, math.sqrt(1.5)], [math.sqrt(1.5), 0.0]]


def _bn_reference(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = x.mean(axis=0)  # (D,)
    var = ((x - mu) ** 2).mean(axis=0)  # (D,) divided by N, as in Algorithm 1 and in Keras
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, mu, var


def _running(mean: Any, var: Any) -> dict[str, np.ndarray]:
    return {"mean": np.array(mean, dtype=float), "var": np.array(var, dtype=float)}


def _call_train(
    bn_train: Callable[..., Any],
    x: np.ndarray,
    gamma: Any,
    beta: Any,
    running: dict[str, np.ndarray],
    what: str,
    **kw: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    given = {k: v.copy() for k, v in running.items()}
    y, new = unpack_pair(
        bn_train(x.copy(), np.array(gamma, float), np.array(beta, float), given, **kw), what, "(y, running)"
    )
    y = expect_shape(y, x.shape, f"{what}: y")
    if not isinstance(new, dict) or not {"mean", "var"} <= set(new):
        raise CheckFailed(f"{what} returned running statistics without the keys 'mean' and 'var'")
    d = x.shape[1:]
    return y.copy(), {
        "mean": expect_shape(new["mean"], d, f"{what}: running['mean']").copy(),
        "var": expect_shape(new["var"], d, f"{what}: running['var']").copy(),
    }


@checker("step3.batchnorm")
def check_batchnorm(batchnorm_train: Callable[..., Any], batchnorm_infer: Callable[..., Any]) -> str:
    expect_callable(batchnorm_train, "batchnorm_train")
    expect_callable(batchnorm_infer, "batchnorm_infer")
    x = np.array(HAND_X)  # (3, 2)
    what = "batchnorm_train(x=[[1, 10], [3, 30], [5, 20]], gamma=1, beta=0, eps=0)"
    y, _ = _call_train(batchnorm_train, x, [1, 1], [0, 0], _running([0, 0], [1, 1]), what, eps=0.0)
    if np.allclose(y.mean(axis=1), 0) and not np.allclose(y.mean(axis=0), 0):
        raise CheckFailed(
            f"{what}: each ROW of y has mean 0 but the columns have means {np.round(y.mean(axis=0), 4)} — "
            "you normalised each example over its features; normalise each feature over the batch (axis=0)"
        )
    if np.allclose(np.abs(y[0]), 1.0):
        raise CheckFailed(
            f"{what} gave y[0] = {np.round(y[0], 4)}; expected [-1.2247, -1.2247] — you used the unbiased "
            "variance (ddof=1: divided by N - 1 = 2, so column 0's variance came out 4 instead of 8/3). "
            "Batch norm divides by N: var = mean((x - mu)**2) over the batch"
        )
    expect_close(
        y,
        HAND_Y,
        what,
        atol=1e-9,
        rtol=0,
        hint="column 0 has mean 3 and variance 8/3, so 1 becomes (1 - 3) / sqrt(8/3) = -1.2247",
    )

    x = np.array([[0.0, 5.0], [0.02, 5.0], [0.01, 5.0]])  # (3, 2) a tiny variance and a constant feature
    what = "batchnorm_train(x=[[0, 5], [0.02, 5], [0.01, 5]], gamma=1, beta=0, eps=0.001)"
    y, _ = _call_train(batchnorm_train, x, [1, 1], [0, 0], _running([0, 0], [1, 1]), what, eps=1e-3)
    want, _, var = _bn_reference(x, np.ones(2), np.zeros(2), 1e-3)
    if not np.all(np.isfinite(y)):
        raise CheckFailed(
            f"{what} returned {y[:, 1]} for the constant feature: its variance is 0 — "
            "add eps inside the square root, sqrt(var + eps)"
        )
    if np.isclose(y[0, 0], -0.01 / (math.sqrt(var[0]) + 1e-3), rtol=1e-6):
        raise CheckFailed(
            f"{what} gave y[0, 0] = {y[0, 0]:.4f}; expected {want[0, 0]:.4f} — eps goes INSIDE the root, "
            "sqrt(var + eps), not sqrt(var) + eps (it matters for features of tiny variance like this one)"
        )
    expect_close(y, want, what, atol=1e-9, rtol=1e-7, hint="y = gamma * (x - mu) / sqrt(var + eps) + beta")

    rng = seeded_rng()
    x = rng.normal([3.0, -2.0, 0.0, 50.0, 0.1], [1.0, 0.1, 5.0, 20.0, 0.01], (32, 5))  # (32, 5)
    gamma, beta = rng.uniform(0.5, 2, 5), rng.normal(0, 1, 5)  # (5,) each
    old = _running(rng.normal(0, 1, 5), rng.uniform(0.5, 2, 5))
    for momentum in (0.99, 0.9):
        what = f"batchnorm_train(x of shape (32, 5), random gamma and beta, momentum={momentum})"
        y, new = _call_train(batchnorm_train, x, gamma, beta, old, what, momentum=momentum, eps=1e-3)
        want, mu, var = _bn_reference(x, gamma, beta, 1e-3)
        expect_close(y, want, f"{what}: y", atol=1e-9, rtol=1e-7, hint="y = gamma * x_hat + beta")
        want_mean = old["mean"] * momentum + mu * (1 - momentum)
        if np.allclose(new["mean"], old["mean"] * (1 - momentum) + mu * momentum):
            raise CheckFailed(
                f"{what}: running['mean'] is {momentum:.0%} the batch mean and {1 - momentum:.0%} the old "
                f"value, the wrong way round — momentum {momentum} is the weight of the OLD value (Keras): "
                "moving * momentum + batch * (1 - momentum)"
            )
        expect_close(
            new["mean"],
            want_mean,
            f"{what}: running['mean']",
            hint="moving * momentum + batch_mean * (1 - momentum)",
        )
        unbiased = var * 32 / 31
        if np.allclose(new["var"], old["var"] * momentum + unbiased * (1 - momentum), rtol=1e-9):
            raise CheckFailed(
                f"{what}: running['var'] was updated with the unbiased batch variance (ddof=1); "
                "Keras uses the same biased variance (divided by N) that normalised the batch"
            )
        expect_close(
            new["var"],
            old["var"] * momentum + var * (1 - momentum),
            f"{what}: running['var']",
            hint="moving * momentum + batch_var * (1 - momentum), with the batch VARIANCE (not the std)",
        )

    run = _running([1.0, -2.0, 0.5], [4.0, 0.25, 1.0])
    gamma, beta = np.array([2.0, 1.0, 0.5]), np.array([0.0, 1.0, -1.0])
    xb = rng.normal(0, 3, (8, 3))  # (8, 3) a batch whose own statistics differ from the running ones
    for xi, label in ((xb, "a batch of 8"), (xb[:1], "ONE example")):
        what = f"batchnorm_infer({label}, running mean [1, -2, 0.5], var [4, 0.25, 1])"
        y = expect_shape(
            batchnorm_infer(
                xi.copy(), gamma.copy(), beta.copy(), {k: v.copy() for k, v in run.items()}, eps=1e-3
            ),
            xi.shape,
            what,
        )
        own, _, _ = _bn_reference(xi, gamma, beta, 1e-3)
        if np.allclose(y, own):
            raise CheckFailed(
                f"{what} normalised with the batch's own mean and variance"
                + (" (so one example always comes out as beta)" if len(xi) == 1 else "")
                + " — at inference use running['mean'] and running['var'], so each example's output "
                "does not depend on the others"
            )
        expect_close(
            y,
            gamma * (xi - run["mean"]) / np.sqrt(run["var"] + 1e-3) + beta,
            what,
            atol=1e-9,
            rtol=1e-7,
            hint="gamma * (x - running mean) / sqrt(running var + eps) + beta",
        )
    return "hand-worked values, eps inside the root, Keras' moving averages, and inference from running stats"
