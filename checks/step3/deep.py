"""Checkers for notebook 05: vanishing gradients, ReLU and the initial scale (Nielsen ch. 5).

Facts: the derivatives of ReLU, tanh and the logistic function from central differences, their
peak slopes (1, 1, 1/4), gradients of a deep network's loss from central differences on networks
the checker builds itself (three activations, uneven widths so a reversed list cannot pass), and
the standard deviations that keep a signal's variance through a layer: 1/sqrt(fan_in) for tanh
(LeCun's rule), sqrt(2/fan_in) for ReLU (He et al., 2015), measured over tens of thousands of draws.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape, numerical_gradient

from ._common import logistic, seeded_rng

Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


def _relu(z: np.ndarray) -> np.ndarray:
    return np.asarray(np.maximum(z, 0.0), dtype=float)


def _logistic_prime(z: np.ndarray) -> np.ndarray:
    s = logistic(z)
    return s * (1.0 - s)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": (logistic, _logistic_prime),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (_relu, lambda z: (z > 0).astype(float)),
}
PEAK_SLOPES = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}


def _grid() -> np.ndarray:
    # (3, 5): negatives, exactly zero, positives, large values; 2-D so shapes must be kept
    return np.array(
        [[-30.0, -4.0, -1.5, -0.3, -1e-3], [0.0, 1e-3, 0.25, 0.7, 1.0], [2.0, 3.5, 6.0, 15.0, 40.0]]
    )


def _derivative(f: Callable[[np.ndarray], np.ndarray], z: np.ndarray) -> np.ndarray:
    eps = 1e-6
    return np.asarray((f(z + eps) - f(z - eps)) / (2 * eps), dtype=float)


def _call_elementwise(fn: Callable[..., Any], name: str, z: np.ndarray) -> np.ndarray:
    arg = z.copy()
    out = expect_shape(fn(arg), z.shape, f"{name}(z) for z of shape {z.shape}")
    if not np.array_equal(arg, z):
        raise CheckFailed(
            f"{name}(z) changed the z you passed in (z[0, 0] is now {arg[0, 0]:g}, was {z[0, 0]:g}); "
            "build a new array (np.maximum, np.where) instead of assigning into z"
        )
    return out


@checker("step3.activations")
def check_activations(
    relu: Callable[..., Any], relu_prime: Callable[..., Any], tanh_prime: Callable[..., Any], peak_slope: Any
) -> str:
    for fn, name in ((relu, "relu"), (relu_prime, "relu_prime"), (tanh_prime, "tanh_prime")):
        expect_callable(fn, name)
    z = _grid()
    expect_close(
        _call_elementwise(relu, "relu", z), np.maximum(z, 0), "relu(z)", hint="max(z, 0) entry by entry"
    )

    slope = _call_elementwise(relu_prime, "relu_prime", z)
    if slope[1, 0] == 1.0:
        raise CheckFailed(
            "relu_prime(0.0) returned 1.0; ReLU has no slope at exactly 0, and this notebook takes 0 there "
            "(as TensorFlow and PyTorch do) — a unit at exactly zero is off: compare with z > 0, not z >= 0"
        )
    away = z != 0
    expect_close(
        slope[away],
        _derivative(_relu, z)[away],
        "relu_prime(z) away from 0 (central differences of max(z, 0))",
        atol=1e-6,
        rtol=0,
        hint="0 for negative z, 1 for positive z",
    )
    expect_close(slope[1, 0], 0.0, "relu_prime(0.0)", hint="this notebook's convention: 0 at exactly zero")

    got = _call_elementwise(tanh_prime, "tanh_prime", z)
    if np.allclose(got, 1.0 - z**2):
        raise CheckFailed(
            f"tanh_prime(2.0) returned {got[2, 0]:g}, which is 1 - 2.0²: that is the derivative written in "
            "terms of the OUTPUT h = tanh(z), 1 - h², fed with z itself — take tanh(z) first"
        )
    expect_close(
        got,
        _derivative(np.tanh, z),
        "tanh_prime(z) (compared with central differences of np.tanh)",
        atol=1e-6,
        rtol=0,
        hint="d/dz tanh(z) = 1 - tanh(z)²",
    )

    if callable(peak_slope):  # the notebook passes its predictions as a function, so a stub is "not done yet"
        peak_slope = peak_slope()
    if not isinstance(peak_slope, dict) or set(peak_slope) != set(PEAK_SLOPES):
        raise CheckFailed(
            f"peak_slopes() should return a dict with the keys {sorted(PEAK_SLOPES)}; got {peak_slope!r}"
        )
    for name, want in PEAK_SLOPES.items():
        value = peak_slope[name]
        if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool):
            raise CheckFailed(f"peak_slopes()[{name!r}] is {value!r}; expected one number")
        if name == "sigmoid" and math.isclose(float(value), 0.5, abs_tol=1e-3):
            raise CheckFailed(
                "peak_slopes()['sigmoid'] is 0.5: that is the sigmoid's VALUE at 0, σ(0) = 1/2; its slope "
                "there is σ(0)(1 - σ(0))"
            )
        if not math.isclose(float(value), want, abs_tol=1e-3):
            raise CheckFailed(
                f"peak_slopes()[{name!r}] is {float(value):g}; the largest slope of {name} over all z is "
                f"{want:g} — evaluate its derivative on a fine grid and take the maximum"
            )
    return "ReLU, its slope (0 at exactly zero), tanh' and the peak slopes 1/4, 1, 1 are right"


# --------------------------------------------------------------------------- gradient norms


def _loss(
    Ws: Sequence[np.ndarray], X: np.ndarray, T: np.ndarray, f: Callable[[np.ndarray], np.ndarray]
) -> float:
    A = X
    for layer, W in enumerate(Ws):
        Z = A @ W
        A = f(Z) if layer < len(Ws) - 1 else Z  # a linear output layer
    return float(0.5 * np.sum((A - T) ** 2) / X.shape[0])


def _numerical_norms(
    Ws: list[np.ndarray], X: np.ndarray, T: np.ndarray, f: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    norms = []
    for layer in range(len(Ws)):

        def loss_of(W: np.ndarray, layer: int = layer) -> float:
            return _loss([*Ws[:layer], W, *Ws[layer + 1 :]], X, T, f)

        norms.append(np.linalg.norm(numerical_gradient(loss_of, Ws[layer])))
    return np.array(norms)


def _slip_norms(Ws: list[np.ndarray], X: np.ndarray, T: np.ndarray, act: Activation, slip: str) -> np.ndarray:
    """The norms a known slip produces, to name it in the message (never compared as the answer)."""
    f, f_prime = act
    acts, pre = [X], []
    for layer, W in enumerate(Ws):
        pre.append(acts[-1] @ W)
        acts.append(f(pre[-1]) if layer < len(Ws) - 1 else pre[-1])
    delta = (acts[-1] - T) / X.shape[0]
    norms = [0.0] * len(Ws)
    for layer in reversed(range(len(Ws))):
        norms[layer] = float(np.linalg.norm(acts[layer].T @ delta))
        if layer > 0:
            back = delta @ Ws[layer].T
            if slip == "no slope":
                delta = back
            elif slip == "slope of the output":
                delta = back * f_prime(acts[layer])
    return np.array(norms)


def _gradient_cases() -> list[tuple[str, str, list[np.ndarray], np.ndarray, np.ndarray]]:
    rng = seeded_rng()
    cases = []
    for name, sizes, gain in (
        ("sigmoid", [4, 6, 5, 7, 5, 3], 1.0),
        ("tanh", [3, 5, 4, 6, 2], 1.5),
        ("relu", [5, 7, 6, 8, 6, 7, 4], math.sqrt(2.0)),
    ):
        Ws = [rng.normal(0.0, gain / math.sqrt(a), (a, b)) for a, b in itertools.pairwise(sizes)]
        X = rng.normal(0.0, 1.0, (7, sizes[0]))  # (N, n_0)
        T = rng.normal(0.0, 1.0, (7, sizes[-1]))  # (N, n_L)
        cases.append((f"a {name} network with sizes {sizes}", name, Ws, X, T))
    return cases


@checker("step3.layer_gradient_norms")
def check_layer_gradient_norms(layer_gradient_norms: Callable[..., Any]) -> str:
    expect_callable(layer_gradient_norms, "layer_gradient_norms")
    for label, name, Ws, X, T in _gradient_cases():
        act = ACTIVATIONS[name]
        want = _numerical_norms(Ws, X, T, act[0])
        copies = [W.copy() for W in Ws]
        what = f"layer_gradient_norms on {label}"
        raw = layer_gradient_norms(copies, X.copy(), T.copy(), *act)
        if isinstance(raw, (list, tuple)) and raw and all(np.ndim(g) == 2 for g in raw):
            raise CheckFailed(
                f"{what} returned {len(raw)} matrices; return one number per layer, the norm of each "
                "gradient (np.linalg.norm(dW))"
            )
        got = as_array(raw, what)
        if got.shape != want.shape:
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected ({len(Ws)},): one norm for each of the {len(Ws)} "
                "weight matrices, the input layer's first"
            )
        if any(not np.array_equal(a, b) for a, b in zip(copies, Ws, strict=True)):
            raise CheckFailed(f"{what} changed the weight matrices passed in; leave them as they are")
        if np.allclose(got, want, rtol=1e-4, atol=1e-9):
            continue
        if np.allclose(got[::-1], want, rtol=1e-4, atol=1e-9):
            raise CheckFailed(
                f"{what} is in reverse order: it ends with {got[-1]:.4g}, the norm of the FIRST layer's "
                "gradient; backprop visits the layers last to first, so fill the list by index "
                "(or reverse it before returning), the input layer's first"
            )
        for slip, why in (
            ("no slope", "the deltas pass back through W.T without the activation's slope f'(Z)"),
            (
                "slope of the output",
                "f_prime was given the layer's OUTPUT f(Z); it takes the pre-activation Z, so keep the "
                "Z of every layer from the forward pass",
            ),
        ):
            if np.allclose(got, _slip_norms(Ws, X, T, act, slip), rtol=1e-4, atol=1e-9):
                raise CheckFailed(
                    f"{what}: the first layer's norm is {got[0]:.4g}, expected {want[0]:.4g} — {why}"
                )
        ratio = got / np.where(want == 0, 1.0, want)
        if np.all(want > 0) and np.allclose(ratio, ratio[0], rtol=1e-4):
            raise CheckFailed(
                f"{what}: every norm is {ratio[0]:.4g} times the right one — the loss is HALF the squared "
                "error summed over the outputs, averaged over the N examples; start from (Y - T) / N"
            )
        expect_close(
            got,
            want,
            what,
            rtol=1e-4,
            atol=1e-9,
            hint="compared with central differences of the loss; the output layer is linear",
        )
    return "per-layer gradient norms match central differences on sigmoid, tanh and ReLU networks"


# --------------------------------------------------------------------------- initial scale


def _draw(
    init_weights: Callable[..., Any], fan_in: int, fan_out: int, activation: str, seed: int
) -> np.ndarray:
    what = f"init_weights({fan_in}, {fan_out}, {activation!r}, rng)"
    W = as_array(init_weights(fan_in, fan_out, activation, np.random.default_rng(seed)), what)
    if W.shape == (fan_out, fan_in):
        raise CheckFailed(
            f"{what} has shape {W.shape}; expected ({fan_in}, {fan_out}) — rows are inputs, so a batch "
            "goes through as X @ W"
        )
    return expect_shape(W, (fan_in, fan_out), what)


def _depth_std(init_weights: Callable[..., Any], activation: str, depth: int = 20, width: int = 128) -> float:
    f = ACTIVATIONS[activation][0]
    rng = seeded_rng()
    A = rng.normal(0.0, 1.0, (200, width))  # (N, width)
    for layer in range(depth):
        A = f(
            A @ as_array(init_weights(width, width, activation, np.random.default_rng(layer)), "init_weights")
        )
    return float(A.std())


@checker("step3.init_scale")
def check_init_scale(init_weights: Callable[..., Any]) -> str:
    expect_callable(init_weights, "init_weights")
    for fan_in, fan_out in ((300, 200), (50, 800), (800, 50)):
        for activation, gain in (("tanh", 1.0), ("relu", math.sqrt(2.0))):
            what = f"init_weights({fan_in}, {fan_out}, {activation!r}, rng)"
            W = _draw(init_weights, fan_in, fan_out, activation, seed=fan_in)
            again = _draw(init_weights, fan_in, fan_out, activation, seed=fan_in)
            if not np.array_equal(W, again):
                raise CheckFailed(
                    f"{what} gave different weights for two generators with the same seed; draw from the "
                    "rng passed in (rng.normal(...)), so that a run can be repeated exactly"
                )
            want = gain / math.sqrt(fan_in)
            std, mean = float(W.std()), float(W.mean())
            if abs(mean) > 0.1 * want:
                raise CheckFailed(f"{what} has mean {mean:.4g}; the weights should be centred on 0")
            if math.isclose(std, want, rel_tol=0.05):
                continue
            slips = {
                "1/sqrt(fan_out): it is the fan-IN, the number of inputs summed into each unit, that "
                "sets the size of the sum": gain / math.sqrt(fan_out),
                "the VARIANCE, not the standard deviation: rng.normal takes the standard deviation, so take "
                "the square root": gain**2 / fan_in,
                "Glorot and Bengio's compromise sqrt(2/(fan_in + fan_out)); this exercise asks for the "
                "forward-pass rule, which uses fan_in alone": math.sqrt(2.0 / (fan_in + fan_out)),
                "a uniform draw on [-s, s], whose standard deviation is s/sqrt(3), not s: draw from "
                "[-sqrt(3)·s, sqrt(3)·s] (or use rng.normal with scale s)": want / math.sqrt(3.0),
            }
            if activation == "relu":
                slips[
                    "the tanh scale 1/sqrt(fan_in): ReLU zeroes half of its inputs, so it needs twice the "
                    "variance, 2/fan_in"
                ] = 1 / math.sqrt(fan_in)
            for why, value in slips.items():
                if math.isclose(std, value, rel_tol=0.05):
                    raise CheckFailed(
                        f"{what} has standard deviation {std:.4g}; expected {want:.4g} — that is {why}"
                    )
            raise CheckFailed(
                f"{what} has standard deviation {std:.4g}; expected {want:.4g} — choose it so that Var(z) = "
                "fan_in · Var(W) · E[a²] stays the same from layer to layer"
            )
    tanh_std, relu_std = _depth_std(init_weights, "tanh"), _depth_std(init_weights, "relu")
    return (
        f"std 1/sqrt(fan_in) for tanh and sqrt(2/fan_in) for ReLU; after 20 layers of 128 units the "
        f"activations' std is {tanh_std:.3f} (tanh) and {relu_std:.3f} (ReLU)"
    )
