"""Checkers for notebook 02: Matt Mazur's worked 2-2-2 backpropagation example.

Facts: Mazur's published numbers (readings-facts.md) and central differences of E_total that the
checker evaluates itself, on his weights and on random weights of other layer sizes, so code that
only reproduces his numbers cannot pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape, numerical_gradient

from ._common import expect_gradient, expect_scalar, logistic, seeded_rng, unpack_pair

MAZUR_PARAMS = {
    "W1": [[0.15, 0.20], [0.25, 0.30]],  # W1[j, i]: input i -> hidden j (w1, w2 / w3, w4)
    "b1": [0.35, 0.35],
    "W2": [[0.40, 0.45], [0.50, 0.55]],  # W2[k, j]: hidden j -> output k (w5, w6 / w7, w8)
    "b2": [0.60, 0.60],
}
MAZUR_X = [0.05, 0.10]
MAZUR_TARGET = [0.01, 0.99]
MAZUR_LR = 0.5


def mazur_params() -> dict[str, np.ndarray]:
    """Fresh arrays of Mazur's starting weights (each call returns new copies)."""
    return {k: np.array(v, dtype=float) for k, v in MAZUR_PARAMS.items()}


def _random_params(n_in: int, n_hidden: int, n_out: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "W1": rng.normal(0, 1.0, (n_hidden, n_in)),
        "b1": rng.normal(0, 0.5, n_hidden),
        "W2": rng.normal(0, 1.0, (n_out, n_hidden)),
        "b2": rng.normal(0, 0.5, n_out),
    }


def _mazur_outputs(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = logistic(p["W1"] @ x + p["b1"])  # (n_hidden,)
    return h, logistic(p["W2"] @ h + p["b2"])  # (n_out,)


def _mazur_error(p: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray) -> float:
    return float(0.5 * np.sum((t - _mazur_outputs(p, x)[1]) ** 2))


def _mazur_numgrad(p: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray, key: str) -> np.ndarray:
    def f(w: np.ndarray) -> float:
        return _mazur_error({**p, key: w}, x, t)

    return numerical_gradient(f, p[key])


def _cases() -> list[tuple[str, dict[str, np.ndarray], np.ndarray, np.ndarray]]:
    rng = seeded_rng()
    return [
        (
            "a 2-2-2 network with random weights",
            _random_params(2, 2, 2, rng),
            rng.uniform(-1, 1, 2),
            rng.uniform(0, 1, 2),
        ),
        (
            "a 3-4-2 network with random weights",
            _random_params(3, 4, 2, rng),
            rng.uniform(-1, 1, 3),
            rng.uniform(0, 1, 2),
        ),
    ]


def _expect_params(value: Any, like: dict[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
    if not isinstance(value, dict):
        raise CheckFailed(
            f"{what} returned {type(value).__name__}; expected a dict like the params passed in"
        )
    missing = [k for k in like if k not in value]
    if missing:
        raise CheckFailed(f"{what} returned a dict without {', '.join(missing)}")
    return {k: expect_shape(value[k], like[k].shape, f"{what}[{k!r}]") for k in like}


@checker("step3.mazur_forward")
def check_mazur_forward(forward: Callable[..., Any], total_error: Callable[..., Any]) -> str:
    expect_callable(forward, "forward")
    expect_callable(total_error, "total_error")
    x, t = np.array(MAZUR_X), np.array(MAZUR_TARGET)
    what = "forward(Mazur's params, [0.05, 0.10])"
    out_h, out_o = unpack_pair(forward(mazur_params(), x.copy()), what, "(out_h, out_o)")
    hint = "net = W @ inputs + b, then the logistic function; W[j, i] connects input i to neuron j"
    expect_close(out_h, [0.593269992, 0.596884378], f"{what}: out_h", atol=1e-8, rtol=0, hint=hint)
    expect_close(out_o, [0.75136507, 0.772928465], f"{what}: out_o", atol=1e-8, rtol=0, hint=hint)
    _, exact_o = _mazur_outputs(mazur_params(), x)
    got = expect_scalar(total_error(exact_o, t), "total_error(out_o, target)")
    expect_close(
        got,
        0.298371109,
        "total_error(out_o, target) for Mazur's forward pass",
        atol=1e-8,
        rtol=0,
        hint="E_total = sum over outputs of 1/2 (target - out)^2",
    )
    what = "total_error(out=[0.2, 0.7, 0.4], target=[0, 1, 1])"
    got = expect_scalar(total_error(np.array([0.2, 0.7, 0.4]), np.array([0.0, 1.0, 1.0])), what)
    if math.isclose(got, 0.49 / 3, abs_tol=1e-9):
        raise CheckFailed(
            f"{what} returned {got:.6g}, the MEAN squared error; Mazur's E_total is the sum "
            "over outputs of 1/2 (target - out)^2"
        )
    expect_close(got, 0.245, what, hint="E_total = sum over outputs of 1/2 (target - out)^2")
    for label, p, xi, _ in _cases():
        h_want, o_want = _mazur_outputs(p, xi)
        h, o = unpack_pair(
            forward({k: v.copy() for k, v in p.items()}, xi.copy()), f"forward on {label}", "(out_h, out_o)"
        )
        expect_close(h, h_want, f"forward on {label}: out_h", hint=hint)
        expect_close(o, o_want, f"forward on {label}: out_o", hint=hint)
    return "E_total = 0.298371109, as in the post"


@checker("step3.mazur_backward")
def check_mazur_backward(backward: Callable[..., Any]) -> str:
    expect_callable(backward, "backward")
    x, t = np.array(MAZUR_X), np.array(MAZUR_TARGET)
    p = mazur_params()
    grads = backward(p, x.copy(), t.copy())
    if not isinstance(grads, dict) or "W1" not in grads or "W2" not in grads:
        raise CheckFailed(
            f"backward returned {type(grads).__name__}; expected a dict with keys 'W1' and 'W2'"
        )
    dw5 = (
        float(as_array(grads["W2"], "backward(...)['W2']").flat[0]) if np.size(grads["W2"]) else float("nan")
    )
    if math.isclose(dw5, -0.082167041, abs_tol=1e-8):
        raise CheckFailed(
            "backward(Mazur's example)['W2'][0, 0] (dE/dw5) has the wrong sign: dE/dout_o1 is "
            "out_o1 - target_o1 = +0.74136507, the error grows with the output"
        )
    if not math.isclose(dw5, 0.082167041, abs_tol=1e-8):
        raise CheckFailed(
            f"backward(Mazur's example)['W2'][0, 0] (dE/dw5) is {dw5:.9f}; expected 0.082167041 = "
            "dE/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5"
        )
    expect_gradient(grads["W2"], _mazur_numgrad(p, x, t, "W2"), "backward(Mazur's example)['W2']")
    expect_gradient(
        grads["W1"],
        _mazur_numgrad(p, x, t, "W1"),
        "backward(Mazur's example)['W1']",
        hint="dE/dout_h1 sums what h1 contributes through BOTH outputs (0.0554 + -0.0190)",
    )
    for label, p, xi, ti in _cases():
        grads = backward({k: v.copy() for k, v in p.items()}, xi.copy(), ti.copy())
        if not isinstance(grads, dict) or "W1" not in grads or "W2" not in grads:
            raise CheckFailed(f"backward on {label} returned no dict with 'W1' and 'W2'")
        for key in ("W2", "W1"):
            expect_gradient(
                grads[key],
                _mazur_numgrad(p, xi, ti, key),
                f"backward on {label}: ['{key}']",
                hint="compared with central differences of E_total; work for any layer sizes",
            )
    return "dE/dw5 = 0.082167041, and every gradient matches central differences, also on other networks"


@checker("step3.mazur_update")
def check_mazur_update(update: Callable[..., Any]) -> str:
    expect_callable(update, "update")
    x, t = np.array(MAZUR_X), np.array(MAZUR_TARGET)
    p = mazur_params()
    what = "update(Mazur's params, x, target, lr=0.5)"
    new = _expect_params(update(p, x.copy(), t.copy(), MAZUR_LR), p, what)
    if any(not np.array_equal(p[k], v) for k, v in mazur_params().items()):
        raise CheckFailed(f"{what} changed the params passed in; build and return new arrays instead")
    w2_ok = np.allclose(new["W2"], [[0.35891648, 0.408666186], [0.511301270, 0.561370121]], atol=1e-6, rtol=0)
    w1_want = [[0.149780716, 0.19956143], [0.24975114, 0.29950229]]
    if w2_ok and not np.allclose(new["W1"], w1_want, atol=1e-6, rtol=0):
        raise CheckFailed(
            f"{what}: w5..w8 are right but w1..w4 are off — compute every gradient with the ORIGINAL "
            "weights before changing any (Mazur uses the original w5..w8 for the hidden layer)"
        )
    expect_close(
        new["W2"],
        [[0.35891648, 0.408666186], [0.511301270, 0.561370121]],
        f"{what}['W2'] (w5..w8)",
        atol=1e-6,
        rtol=0,
        hint="w5+ = w5 - lr * dE/dw5",
    )
    expect_close(new["W1"], w1_want, f"{what}['W1'] (w1..w4)", atol=1e-6, rtol=0)
    for key in ("b1", "b2"):
        if not np.array_equal(new[key], p[key]):
            raise CheckFailed(
                f"{what} changed {key}; in Mazur's example the biases stay fixed "
                "(his error after one update, 0.291027924, assumes that)"
            )
    err = _mazur_error(new, x, t)
    expect_close(err, 0.291027924, f"E_total after {what}", atol=1e-6, rtol=0)
    for label, p, xi, ti in _cases():
        new = _expect_params(
            update({k: v.copy() for k, v in p.items()}, xi.copy(), ti.copy(), 0.7),
            p,
            f"update on {label} with lr=0.7",
        )
        for key in ("W1", "W2"):
            want = p[key] - 0.7 * _mazur_numgrad(p, xi, ti, key)
            expect_close(
                new[key],
                want,
                f"update on {label} with lr=0.7: ['{key}']",
                atol=1e-7,
                rtol=1e-6,
                hint="expected W - lr * dE/dW, with dE/dW from central differences",
            )
    return f"E_total {0.298371109:.9f} -> {err:.9f} after one update (Mazur: 0.291027924)"


@checker("step3.mazur_train")
def check_mazur_train(train: Callable[..., Any]) -> str:
    expect_callable(train, "train")
    x, t = np.array(MAZUR_X), np.array(MAZUR_TARGET)
    p = mazur_params()
    new = _expect_params(train(p, x.copy(), t.copy(), MAZUR_LR, 0), p, "train(..., steps=0)")
    for k in p:
        expect_close(
            new[k], p[k], f"train(..., steps=0)['{k}']", hint="zero steps must leave the weights alone"
        )
    for label, q, xi, ti in _cases()[:1]:
        want = {k: v.copy() for k, v in q.items()}
        for _ in range(3):
            want = {**want, **{k: want[k] - 1.5 * _mazur_numgrad(want, xi, ti, k) for k in ("W1", "W2")}}
        got = _expect_params(
            train({k: v.copy() for k, v in q.items()}, xi.copy(), ti.copy(), 1.5, 3),
            q,
            f"train on {label}, lr=1.5, steps=3",
        )
        for k in q:
            expect_close(
                got[k],
                want[k],
                f"train on {label}, lr=1.5, steps=3: ['{k}']",
                atol=1e-6,
                rtol=1e-6,
                hint="exactly `steps` updates, each one like update()",
            )
    what = "train(Mazur's params, x, target, lr=0.5, steps=10000)"
    new = _expect_params(train(mazur_params(), x.copy(), t.copy(), MAZUR_LR, 10_000), p, what)
    err = _mazur_error(new, x, t)
    out = _mazur_outputs(new, x)[1]
    expect_close(err, 0.0000351085, f"E_total after {what}", atol=1e-6, rtol=0)
    expect_close(out, [0.015912196, 0.984065734], f"outputs after {what}", atol=1e-4, rtol=0)
    return (
        f"E_total after 10,000 updates {err:.4e} (Mazur: 0.0000351085), outputs {out[0]:.4f} / {out[1]:.4f}"
    )
