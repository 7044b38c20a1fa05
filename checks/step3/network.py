"""Checkers for notebook 03: a general fully-connected network, gradient checking, digits.

Facts: a softmax/cross-entropy loss the checker evaluates itself, its central-difference
gradients for several depths and both activations, and accuracy on the test part of the
course's shared split of the digits (``datasets.load("digits").split3()``, the split notebooks
4.02 and 5.02 measure on too), computed here.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape, numerical_gradient

from ._common import expect_gradient, expect_scalar, logistic, seeded_rng, unpack_pair

Params = list[tuple[np.ndarray, np.ndarray]]  # [(W, b), ...]: W (n_in, n_out), b (n_out,)


def _act(name: str) -> Callable[[np.ndarray], np.ndarray]:
    return np.tanh if name == "tanh" else logistic


def _mlp_params(sizes: Sequence[int], rng: np.random.Generator, scale: float = 0.8) -> Params:
    return [(rng.normal(0, scale, (m, n)), rng.normal(0, 0.3, n)) for m, n in itertools.pairwise(sizes)]


def _mlp_activations(params: Params, X: np.ndarray, activation: str) -> list[np.ndarray]:
    acts, h = [X], X
    for i, (W, b) in enumerate(params):
        z = h @ W + b  # (N, n_out)
        if i < len(params) - 1:
            h = _act(activation)(z)
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            h = e / e.sum(axis=1, keepdims=True)
        acts.append(h)
    return acts


def _mlp_loss(params: Params, X: np.ndarray, y: np.ndarray, activation: str) -> float:
    probs = _mlp_activations(params, X, activation)[-1]
    return float(-np.mean(np.log(probs[np.arange(len(y)), y])))


_MLP_CASES = [
    ([4, 3], "sigmoid"),
    ([5, 4, 3], "sigmoid"),
    ([3, 6, 4], "tanh"),
    ([4, 5, 3, 2], "tanh"),
    ([6, 3, 4, 3, 5], "sigmoid"),
]


def _mlp_case(
    sizes: Sequence[int], rng: np.random.Generator, n: int = 7
) -> tuple[Any, np.ndarray, np.ndarray]:
    params = _mlp_params(sizes, rng)
    return params, rng.normal(0, 1, (n, sizes[0])), rng.integers(0, sizes[-1], n)


def _copy_params(params: Params) -> Params:
    return [(W.copy(), b.copy()) for W, b in params]


def _loss_of_one_array(
    params: Params, X: np.ndarray, y: np.ndarray, activation: str, layer: int, key: int
) -> Callable[[np.ndarray], float]:
    """The loss as a function of one weight matrix (key 0) or bias vector (key 1) alone."""

    def f(v: np.ndarray) -> float:
        trial = _copy_params(params)
        trial[layer] = (v, trial[layer][1]) if key == 0 else (trial[layer][0], v)
        return _mlp_loss(trial, X, y, activation)

    return f


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"{type(value).__name__}"


@checker("step3.mlp_forward")
def check_mlp_forward(forward: Callable[..., Any]) -> str:
    expect_callable(forward, "forward")
    rng = seeded_rng()
    for sizes, activation in [*_MLP_CASES, ([5, 4, 3], "tanh")]:
        params, X, _ = _mlp_case(sizes, rng)
        what = f"forward(params for sizes {sizes}, X of shape {X.shape}, activation={activation!r})"
        acts = forward(_copy_params(params), X.copy(), activation)
        want = _mlp_activations(params, X, activation)
        if not isinstance(acts, (list, tuple)) or len(acts) != len(want):
            raise CheckFailed(
                f"{what} returned {_describe(acts)}; "
                f"expected a list of {len(want)} arrays: the input X, then each layer's output"
            )
        for i, (got, w) in enumerate(zip(acts, want, strict=True)):
            layer = (
                "the input X"
                if i == 0
                else "the softmax output"
                if i == len(want) - 1
                else f"hidden layer {i}"
            )
            got = expect_shape(got, w.shape, f"{what}[{i}] ({layer})")
            if i == len(want) - 1 and not np.allclose(got.sum(axis=1), 1.0):
                raise CheckFailed(f"{what}[-1]: each row should be probabilities summing to 1; use a softmax")
            expect_close(
                got,
                w,
                f"{what}[{i}] ({layer})",
                hint="hidden: activation(h @ W + b); last layer: softmax(h @ W + b), no activation before it",
            )
    sizes = [3, 4, 2]
    params = [(W * 400.0, b) for W, b in _mlp_params(sizes, rng)]
    X = rng.normal(0, 1, (5, 3))
    with np.errstate(all="ignore"):
        probs = as_array(forward(params, X, "tanh")[-1], "forward(...)[-1] with very large weights")
    if not np.all(np.isfinite(probs)):
        raise CheckFailed(
            "forward with very large weights gave nan/inf probabilities — subtract each row's "
            "max from the logits before np.exp (softmax does not change)"
        )
    return "activations and softmax probabilities match for depths 1 to 4, sigmoid and tanh"


@checker("step3.gradient_check")
def check_gradient_check(
    numerical_gradient_fn: Callable[..., Any], relative_error: Callable[..., Any]
) -> str:
    expect_callable(numerical_gradient_fn, "numerical_gradient")
    expect_callable(relative_error, "relative_error")
    rng = seeded_rng()
    x = rng.uniform(-2, 2, (3, 2))
    before = x.copy()
    shapes: list[tuple[int, ...]] = []

    def f(v: np.ndarray) -> float:
        shapes.append(np.shape(v))
        return float(np.sum(np.exp(1.5 * v) + v**3))

    what = "numerical_gradient(f, x of shape (3, 2), eps=1e-5) with f(x) = sum(exp(1.5 x) + x^3)"
    got = expect_shape(numerical_gradient_fn(f, x, 1e-5), (3, 2), what)
    if not np.array_equal(x, before):
        raise CheckFailed(f"{what} left x changed; put each entry back after nudging it")
    if any(s != (3, 2) for s in shapes):
        raise CheckFailed(
            f"{what} called f with shape {next(s for s in shapes if s != (3, 2))}; call it on x itself"
        )
    exact = 1.5 * np.exp(1.5 * before) + 3 * before**2
    one_sided = np.zeros_like(before)
    for i in np.ndindex(before.shape):
        bumped = before.copy()
        bumped[i] += 1e-5
        one_sided[i] = (f(bumped) - f(before)) / 1e-5
    if np.allclose(got, one_sided, atol=1e-9, rtol=1e-9) and not np.allclose(
        got, exact, atol=1e-7, rtol=1e-7
    ):
        raise CheckFailed(
            f"{what} is one-sided (error ~1e-5); the CENTRAL difference "
            "(f(x + eps) - f(x - eps)) / (2 eps) is far more accurate"
        )
    expect_close(got, exact, what, atol=1e-7, rtol=1e-7, hint="nudge one entry at a time, both ways")
    a = rng.normal(size=(4, 3))
    zeros = np.zeros(3)
    # (call, its arguments, lowest and highest acceptable value, what to expect)
    checks = [
        ("relative_error(a, a)", (a, a.copy()), 0.0, 0.0, "0"),
        (
            "relative_error of two zero arrays",
            (zeros, zeros.copy()),
            0.0,
            0.0,
            "0, not nan",
        ),
        ("relative_error(a, a * (1 + 1e-8))", (a, a * (1 + 1e-8)), 1e-300, 1e-7, "a tiny positive number"),
        ("relative_error(a, -a)", (a, -a), 0.5, math.inf, "a large number (>= 0.5)"),
        ("relative_error(a, a + 0.01)", (a, a + 0.01), 1e-4, 0.1, "about 0.005"),
    ]
    for label, (u, v), low, high, expected in checks:
        value = expect_scalar(relative_error(u, v), label)
        if not (math.isfinite(value) and low <= value <= high):
            raise CheckFailed(f"{label} returned {value:.3g}; expected {expected}")
    r1, r2 = float(relative_error(a, a + 0.01 * a)), float(relative_error(1e6 * a, 1e6 * (a + 0.01 * a)))
    if not math.isclose(r1, r2, rel_tol=1e-6):
        raise CheckFailed(
            f"relative_error changed from {r1:.3g} to {r2:.3g} when both arrays were scaled by 1e6; "
            "divide by their size so that it is RELATIVE"
        )
    if not math.isclose(float(relative_error(a, 2 * a)), float(relative_error(2 * a, a)), rel_tol=1e-9):
        raise CheckFailed("relative_error(a, b) differs from relative_error(b, a); make it symmetric")
    return "central differences to ~1e-9, and a scale-free relative error"


@checker("step3.mlp_backprop")
def check_mlp_backprop(loss_and_grads: Callable[..., Any]) -> str:
    expect_callable(loss_and_grads, "loss_and_grads")
    rng = seeded_rng()
    worst = 0.0
    for sizes, activation in _MLP_CASES:
        params, X, y = _mlp_case(sizes, rng)
        what = f"loss_and_grads for sizes {sizes}, activation={activation!r}, a batch of {len(X)}"
        given = _copy_params(params)
        loss, grads = unpack_pair(
            loss_and_grads(given, X.copy(), y.copy(), activation), what, "(loss, grads)"
        )
        if any(
            not np.array_equal(W, W0) or not np.array_equal(b, b0)
            for (W, b), (W0, b0) in zip(given, params, strict=True)
        ):
            raise CheckFailed(f"{what} changed the params passed in; only compute, do not update")
        expect_close(
            loss,
            _mlp_loss(params, X, y, activation),
            f"{what}: loss",
            hint="the mean over the batch of -log(probability of the true class)",
        )
        if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
            raise CheckFailed(
                f"{what}: grads should be a list of {len(params)} (dW, db) pairs, one per layer"
            )
        for layer, ((W, b), pair) in enumerate(zip(params, grads, strict=True), start=1):
            dW, db = unpack_pair(pair, f"{what}: grads[{layer - 1}]", "(dW, db)")
            for name, got, key in (("dW", dW, 0), ("db", db, 1)):
                f = _loss_of_one_array(params, X, y, activation, layer - 1, key)
                want = numerical_gradient(f, (W, b)[key])
                label = f"{what}: {name} of layer {layer}"
                arr = expect_shape(got, want.shape, label)
                for factor, why in (
                    (len(X), "N times too large — average over the batch"),
                    (1 / len(X), "N times too small — average over the batch only once"),
                ):
                    if np.allclose(arr, factor * want, atol=1e-8, rtol=1e-5) and not np.allclose(
                        want, 0, atol=1e-8
                    ):
                        raise CheckFailed(f"{label} is {why}")
                hint = (
                    "compared with central differences; check the derivative of "
                    f"{activation} and the order of the matrix products"
                )
                expect_gradient(arr, want, label, hint=hint)
                worst = max(worst, float(np.max(np.abs(arr - want))))
    return f"all gradients match central differences (largest difference {worst:.1e}) for depths 1 to 4"


MIN_DIGITS_ACCURACY = 0.94  # measured: the notebook's settings give 95.0-95.8 % on seeds 0-4


@functools.lru_cache(maxsize=1)
def _shared_digits() -> tuple[np.ndarray, ...]:
    from dl7 import datasets

    split = datasets.load("digits").split3()  # 60/20/20 of each class, the same on every machine
    return tuple(
        a.reshape(len(a), -1).astype(np.float64) if a.ndim == 4 else a.copy() for a in split
    )  # (1079, 64), (1079,), (359, 64), (359,), (359, 64), (359,): pixels in [0, 1]


def shared_digits() -> tuple[np.ndarray, ...]:
    """Copies of ``x_train, y_train, x_val, y_val, x_test, y_test``, images flattened to 64 pixels."""
    return tuple(a.copy() for a in _shared_digits())


@checker("step3.digits")
def check_digits(classify: Callable[..., Any], fit_mlp: Callable[..., Any] | None = None) -> str:
    expect_callable(classify, "classify_digits")
    trained = _check_fit_mlp(fit_mlp) if fit_mlp is not None else ""
    *_, X_test, y_test = shared_digits()
    n = len(y_test)
    pred = as_array(classify(X_test.copy()), "classify_digits(test images)")
    if pred.shape == (n, 10):
        raise CheckFailed(
            f"classify_digits returned scores of shape ({n}, 10); return one label per image (argmax)"
        )
    pred = expect_shape(pred, y_test.shape, f"classify_digits({n} test images)")
    accuracy = float(np.mean(pred == y_test))
    where = f"on the {n} test digits of the shared split"
    if accuracy < 0.3:
        raise CheckFailed(
            f"accuracy {accuracy:.1%} {where}, close to chance (10% for 10 classes): "
            "the network learned next to nothing, which longer training will not fix — check that each "
            "batch takes its images and its labels with the same indices, and that every update goes "
            "down the gradient (W - lr * dW)"
        )
    if accuracy < MIN_DIGITS_ACCURACY:
        raise CheckFailed(
            f"accuracy {accuracy:.1%} {where}; expected at least {MIN_DIGITS_ACCURACY:.0%} — "
            "train longer or tune the learning rate (judge by the validation accuracy), and pass the "
            "images as they come, pixels already in [0, 1]"
        )
    return f"accuracy {accuracy:.1%} {where}{trained}"


def _check_fit_mlp(fit_mlp: Callable[..., Any]) -> str:
    """fit_mlp itself, on a small problem: it must update every weight and bias and record one
    mean loss per epoch (the accuracy alone would not notice either)."""
    expect_callable(fit_mlp, "fit_mlp")
    rng = np.random.default_rng(11)
    X = rng.normal(size=(96, 5))  # (96, 5)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)  # (96,) three classes
    sizes, epochs = [5, 8, 3], 8

    def fit(n_epochs: int) -> tuple[Params, list[float]]:
        what = (
            f"fit_mlp(X of shape (96, 5), y, sizes={sizes}, 'tanh', lr=0.1, epochs={n_epochs}, batch_size=16)"
        )
        result = fit_mlp(X.copy(), y.copy(), list(sizes), "tanh", lr=0.5, epochs=n_epochs, batch_size=16)
        params, losses = unpack_pair(result, what, "(params, losses)")
        if not isinstance(params, list | tuple) or len(params) != len(sizes) - 1:
            raise CheckFailed(
                f"{what} returned params {_describe(params)}; expected a list of (W, b) per layer"
            )
        out = [(as_array(W, f"{what}: W"), as_array(b, f"{what}: b")) for W, b in params]
        values = as_array(list(losses), f"{what}: losses") if len(losses) else np.zeros(0)
        return out, [float(v) for v in values.ravel()]

    start, _ = fit(0)
    params, losses = fit(epochs)
    what = f"fit_mlp(..., epochs={epochs})"
    if not losses:
        raise CheckFailed(
            f"{what} returned an empty losses list: append each epoch's mean loss, one entry per epoch "
            "(the plot of the training curve reads it)"
        )
    if len(losses) != epochs:
        raise CheckFailed(
            f"{what} returned {len(losses)} losses; expected one mean loss per epoch ({epochs})"
        )
    if not all(math.isfinite(v) and v >= 0 for v in losses):
        raise CheckFailed(f"{what} returned losses {losses}; each should be a finite mean cross-entropy ≥ 0")
    for layer, ((W0, b0), (W, b)) in enumerate(zip(start, params, strict=True), start=1):
        if np.array_equal(W, W0):
            raise CheckFailed(
                f"{what}: the weights W of layer {layer} never changed; update them (W - lr * dW)"
            )
        if np.array_equal(b, b0):
            raise CheckFailed(
                f"{what}: the biases b of layer {layer} never changed; update them as well (b - lr * db)"
            )
    before, after = _mlp_loss(start, X, y, "tanh"), _mlp_loss(params, X, y, "tanh")
    # Measured: a right fit_mlp takes this loss from 1.21 to 0.48; labels out of step with their
    # inputs leave it near 1.08 (only the class frequencies are learned).
    if not after < 0.75 * before:
        raise CheckFailed(
            f"{what}: the loss on its own training data went from {before:.4f} to only {after:.4f}; "
            "8 epochs should cut it by far more than a quarter — does each batch take its inputs and "
            "its labels with the same indices, and does every update go down the gradient?"
        )
    return "; fit_mlp updates every weight and bias and records one loss per epoch"
