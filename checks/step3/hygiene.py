"""Checkers for the training-hygiene exercises of notebook 03: ``step3.initial_loss`` (the loss
of an untrained network is about ln K) and ``step3.overfit_tiny_batch`` (the training code can
memorise 20 examples).

Facts: ln K for K classes; the loss of the learner's untrained network measured on the
checker's own digits (the shared split's training part) for 10 and for 3 classes; and the
cross-entropy, computed here, of the parameters the learner's training returns on 20 digits the
checker chooses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

from ._common import expect_scalar, unpack_pair
from .network import Params, _mlp_activations, _mlp_loss, shared_digits

INITIAL_TOLERANCE = 0.25  # of ln K; measured: N(0, 1/n_in) weights give 2.37-2.44 for ln 10 = 2.30
TINY_LOSS = 0.01  # memorised: the right class gets a probability of about 0.99
TINY_SIZES = (64, 128, 10)


def _prediction(expected_initial_loss: Callable[..., Any]) -> str:
    for k in (10, 3, 2):
        value = expect_scalar(expected_initial_loss(k), f"expected_initial_loss({k})")
        want = math.log(k)
        if math.isclose(value, want, rel_tol=1e-3):
            continue
        what = f"expected_initial_loss({k}) returned {value:.4g}"
        causes = [
            (1 / k, "that is the probability each class gets, 1/K; the loss is -log of it"),
            (math.log10(k), "that is log10; the cross-entropy uses the natural log (np.log)"),
            (math.log2(k), "that is log2; the cross-entropy uses the natural log (np.log)"),
            (math.log(10), "that is ln 10 whatever the number of classes; write it as a formula in K"),
            (0.0, "an untrained network is not right yet: its loss is far from 0"),
        ]
        cause = next((why for v, why in causes if math.isclose(value, v, rel_tol=1e-3, abs_tol=1e-9)), "")
        raise CheckFailed(
            f"{what}; an untrained network's probabilities are all about 1/{k}, so its mean "
            f"cross-entropy is about {want:.4f}" + (f" — {cause}" if cause else "")
        )
    return "ln K"


def _subset(classes: int) -> tuple[np.ndarray, np.ndarray]:
    X, y, *_ = shared_digits()
    keep = y < classes
    return X[keep], y[keep]


@checker("step3.initial_loss")
def check_initial_loss(expected_initial_loss: Callable[..., Any], initial_loss: Callable[..., Any]) -> str:
    expect_callable(expected_initial_loss, "expected_initial_loss")
    expect_callable(initial_loss, "initial_loss")
    _prediction(expected_initial_loss)
    measured = []
    for sizes, k in (([64, 128, 10], 10), ([64, 32, 3], 3)):
        X, y = _subset(k)
        values = []
        for seed in (0, 1):
            what = (
                f"initial_loss(X of shape {X.shape}, y with {k} classes, sizes={sizes}, 'tanh', seed={seed})"
            )
            value = expect_scalar(initial_loss(X.copy(), y.copy(), list(sizes), "tanh", seed), what)
            want = math.log(k)
            if not math.isfinite(value):
                raise CheckFailed(f"{what} returned {value}; expected a finite loss near ln {k} = {want:.4f}")
            if abs(value / len(y) - want) < INITIAL_TOLERANCE * want:
                raise CheckFailed(
                    f"{what} returned {value:.1f}, about {len(y)} × ln {k}: that is the SUM over the "
                    f"{len(y)} examples; the loss is their mean, so it does not grow with the batch"
                )
            if value > (1 + INITIAL_TOLERANCE) * want:
                raise CheckFailed(
                    f"{what} returned {value:.4f}, far above ln {k} = {want:.4f}: the untrained network "
                    "is already confident, and wrong. Its initial weights are too large — draw them "
                    "small, N(0, 1/n_in), as init_params does"
                )
            if value < (1 - INITIAL_TOLERANCE) * want:
                raise CheckFailed(
                    f"{what} returned {value:.4f}, well below ln {k} = {want:.4f}: an untrained "
                    "network cannot do better than chance. Build fresh parameters with "
                    "init_params(sizes, seed) (not trained ones), and take -log of the probability of "
                    "each example's TRUE class"
                )
            values.append(value)
        if values[0] == values[1] == math.log(k):
            raise CheckFailed(
                f"initial_loss returned exactly ln {k} for two different seeds; measure the loss of "
                "the network rather than returning the prediction"
            )
        measured.append(f"{values[0]:.3f} for {k} classes (ln {k} = {math.log(k):.3f})")
    _uses_each_true_class(initial_loss)
    return "predicted ln K; measured " + " and ".join(measured)


def _uses_each_true_class(initial_loss: Callable[..., Any]) -> None:
    """Near ln K whatever it computes, an untrained network's loss cannot show a slip in the
    labels; two exact properties can. The mean over a batch is the mean of its examples' losses
    (one at a time, the same network), and other labels give another loss."""
    X, y = _subset(10)
    pick = [int(np.flatnonzero(y == k)[0]) for k in range(6)]  # six digits, six different labels
    X, y = X[pick], y[pick]
    sizes = [64, 128, 10]

    def loss(Xs: np.ndarray, ys: np.ndarray) -> float:
        return expect_scalar(initial_loss(Xs.copy(), ys.copy(), list(sizes), "tanh", 0), "initial_loss")

    batch = loss(X, y)
    singles = [loss(X[i : i + 1], y[i : i + 1]) for i in range(len(y))]
    if not math.isclose(batch, float(np.mean(singles)), rel_tol=1e-9, abs_tol=1e-12):
        raise CheckFailed(
            f"initial_loss on 6 digits gave {batch:.6f}, but the mean of the same 6 digits' losses taken "
            f"one at a time is {np.mean(singles):.6f}: each example must contribute -log of ITS OWN true "
            "class's probability, P[np.arange(N), y] (P[:, y] takes every example at every label)"
        )
    shifted = loss(X, (y + 1) % 10)
    if math.isclose(batch, shifted, rel_tol=1e-12, abs_tol=1e-15):
        raise CheckFailed(
            f"initial_loss gave {batch:.6f} for the true labels and the same for labels shifted by one: it "
            "ignores y. Take -log of the probability of each example's true class, not of every class"
        )


def _tiny_batch() -> tuple[np.ndarray, np.ndarray]:
    X, y, *_ = shared_digits()
    rng = np.random.default_rng(5)  # not the notebook's first two of each class
    pick = np.concatenate([rng.choice(np.flatnonzero(y == k), 2, replace=False) for k in range(10)])
    return X[pick], y[pick]  # (20, 64), (20,)


@checker("step3.overfit_tiny_batch")
def check_overfit_tiny_batch(overfit_tiny_batch: Callable[..., Any]) -> str:
    expect_callable(overfit_tiny_batch, "overfit_tiny_batch")
    X, y = _tiny_batch()
    what = "overfit_tiny_batch(20 digits of the checker's)"
    params_out, losses = unpack_pair(overfit_tiny_batch(X.copy(), y.copy()), what, "(params, losses)")
    if not isinstance(params_out, list | tuple) or len(params_out) != len(TINY_SIZES) - 1:
        raise CheckFailed(
            f"{what} returned params that are not a list of {len(TINY_SIZES) - 1} (W, b) pairs; "
            f"return what fit_mlp returns for sizes {list(TINY_SIZES)}"
        )
    params: Params = []
    for i, pair in enumerate(params_out):
        W, b = unpack_pair(pair, f"{what}: params[{i}]", "(W, b)")
        params.append(
            (as_array(W, f"{what}: W of layer {i + 1}"), as_array(b, f"{what}: b of layer {i + 1}"))
        )
    shapes = [W.shape for W, _ in params]
    want_shapes = [(TINY_SIZES[i], TINY_SIZES[i + 1]) for i in range(len(TINY_SIZES) - 1)]
    if shapes != want_shapes:
        raise CheckFailed(f"{what}: the weights have shapes {shapes}; expected {want_shapes}")
    history = as_array(list(losses), f"{what}: losses").ravel() if len(losses) else np.zeros(0)
    if not len(history):
        raise CheckFailed(
            f"{what} returned an empty losses list: fit_mlp should append each epoch's mean training "
            "loss, the curve that shows whether (and how fast) it learns"
        )
    for i, (_, b) in enumerate(params, start=1):
        if not np.any(b):
            raise CheckFailed(
                f"{what}: the biases of layer {i} are all still 0, as init_params made them; fit_mlp "
                "never updates them (b - lr * db)"
            )
    with np.errstate(all="ignore"):
        loss = _mlp_loss(params, X, y, "tanh")
        right = int(np.sum(_mlp_activations(params, X, "tanh")[-1].argmax(axis=1) == y))
    epochs = f"after {len(history)} epochs"
    if not math.isfinite(loss):
        raise CheckFailed(f"{what}: the loss of the returned params is {loss}; lower the learning rate")
    if loss >= TINY_LOSS:
        X_all, y_all, *_ = shared_digits()
        with np.errstate(all="ignore"):
            everywhere = _mlp_loss(params, X_all, y_all, "tanh")
        # Measured: params memorising the 20 have a loss of 0.9 or more on all 1,079 training
        # digits; params trained on all of them, about 0.1.
        if everywhere < 0.5:
            raise CheckFailed(
                f"{what}: the returned params have a loss of {loss:.4f} on the 20 digits handed in, "
                f"and {everywhere:.4f} on all {len(y_all)} training digits: they were trained on the "
                "whole training set. Train on X and y, the arguments, and on nothing else"
            )
        if history.min() < TINY_LOSS:
            raise CheckFailed(
                f"{what}: fit_mlp reported a training loss of {history.min():.4f}, but the returned "
                f"params have a loss of {loss:.4f} on the 20 digits handed in — train on X and y, "
                "the arguments, and on nothing else"
            )
        if right == len(y):
            raise CheckFailed(
                f"{what}: all 20 digits are classified right, but the loss {epochs} is {loss:.4f}, "
                f"above {TINY_LOSS}: right is not yet sure. Memorising means a probability near 1 for "
                "every true class — train on (more epochs, or a larger learning rate)"
            )
        raise CheckFailed(
            f"{what}: {right} of 20 right and a loss of {loss:.4f} {epochs}; it should fall below "
            f"{TINY_LOSS}. 20 examples are easy to memorise: train (much) longer or with a larger "
            "learning rate, full batches (batch_size=len(X)). If it still will not, look for a bug "
            "in loss_and_grads or in fit_mlp's update"
        )
    return f"the 20 digits memorised: loss from {history[0]:.3f} down to {loss:.4f} {epochs}, all 20 right"
