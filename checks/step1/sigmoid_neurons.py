"""Checkers for notebook 02: sigmoid neurons and feedforward networks (Nielsen ch. 1)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape

from ._common import X_BOOL, Y_XOR, _fmt, _rng, _sigma

# ------------------------------------------------------------------------------ sigmoid neurons

# σ(3), σ(1), σ(1), σ(-1): Nielsen's NAND weights (-2, -2) and bias 3 on the four inputs.
_NAND_SIGMOID = np.array([0.9525741268224334, 0.7310585786300049, 0.7310585786300049, 0.2689414213699951])


@checker("step1.sigmoid_neuron")
def check_sigmoid_neuron(sigmoid_neuron: Callable[..., Any]) -> str:
    expect_callable(sigmoid_neuron, "sigmoid_neuron")
    w, b = np.array([-2.0, -2.0]), 3.0
    what = "sigmoid_neuron(w=(-2, -2), b=3, X of the 4 two-input rows)"
    got = as_array(sigmoid_neuron(w.copy(), b, X_BOOL.copy()), what)
    if got.shape != (4,):
        extra = " — return one number per row of X (try `.ravel()`)" if got.size == 4 else ""
        raise CheckFailed(f"{what} has shape {got.shape}; expected (4,){extra}")
    if np.all((got == 0) | (got == 1)):
        raise CheckFailed(
            f"{what} returned {got.tolist()}: that is a perceptron's step; a sigmoid neuron outputs "
            "σ(w·x + b), a smooth value between 0 and 1"
        )
    z = X_BOOL @ w + b  # (4,)
    if np.allclose(got, 1 + np.exp(-z)):
        raise CheckFailed(
            f"{what} returned {got.round(4).tolist()}, values above 1, which is 1 + e^(−z): "
            "`1 / 1 + exp(-z)` divides 1 by 1 first; write 1 / (1 + exp(-z))"
        )
    if np.any(got < 0) or np.any(got > 1):
        raise CheckFailed(
            f"{what} returned {got.round(4).tolist()}; a sigmoid neuron's output lies between 0 and 1"
        )
    if np.allclose(got, 1 - _NAND_SIGMOID):
        raise CheckFailed(
            f"{what} looks like σ(−(w·x + b)): σ(z) = 1 / (1 + e^(−z)) grows with z, so a large positive "
            "w·x + b must give an output near 1"
        )
    if np.allclose(got, _sigma(X_BOOL @ w)):
        raise CheckFailed(f"{what} returned {got.round(4).tolist()}: did you add the bias b to w·x?")
    expect_close(got, _NAND_SIGMOID, what, atol=1e-6, hint="the output is σ(w·x + b) for each row x")

    rng = _rng(1)
    for n, d in [(40, 6), (5, 1)]:
        X = rng.normal(size=(n, d))  # (n, d)
        w = rng.normal(size=d)  # (d,)
        b = float(rng.normal())
        what = f"sigmoid_neuron(w of shape ({d},), b={b:.3f}, X of shape {X.shape})"
        got = as_array(sigmoid_neuron(w.copy(), b, X.copy()), what)
        expect_close(got, _sigma(X @ w + b), what, atol=1e-6, hint="σ(w·x + b) for each row x")
    what = "sigmoid_neuron(w=(0, 0, 0), b=0, X of shape (3, 3))"
    expect_close(
        sigmoid_neuron(np.zeros(3), 0.0, rng.normal(size=(3, 3))), [0.5] * 3, what, hint="σ(0) = 0.5"
    )
    return "matches σ(w·x + b) on Nielsen's NAND weights and on random batches"


@checker("step1.feedforward")
def check_feedforward(feedforward: Callable[..., Any]) -> str:
    expect_callable(feedforward, "feedforward")
    rng = _rng(2)

    def run(weights: list[np.ndarray], biases: list[np.ndarray], a: np.ndarray, what: str) -> np.ndarray:
        got = as_array(feedforward([W.copy() for W in weights], [b.copy() for b in biases], a.copy()), what)
        n_out = weights[-1].shape[0]
        if got.shape != (n_out,):
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected ({n_out},): the activations of the last layer only, "
                "as a 1-D vector"
            )
        return got

    # One layer of 3 neurons on 2 inputs: a' = σ(W a + b), W of shape (3, 2).
    W = rng.normal(size=(3, 2))  # (3, 2)
    b = rng.normal(size=3)  # (3,)
    a = rng.normal(size=2)  # (2,)
    what = "feedforward([W of shape (3, 2)], [b of shape (3,)], a of shape (2,))"
    got = run([W], [b], a, what)
    expect_close(got, _sigma(W @ a + b), what, hint="one layer computes σ(W a + b)")

    sizes = [2, 4, 3, 1]
    zeros_w = [np.zeros((m, n)) for n, m in itertools.pairwise(sizes)]
    biases = [np.zeros(m) for m in sizes[1:]]
    biases[-1] = np.array([math.log(3.0)])  # σ(ln 3) = 3/4
    what = "feedforward(all weights 0, last bias ln 3, sizes [2, 4, 3, 1])"
    got = run(zeros_w, biases, np.array([0.3, -0.7]), what)
    expect_close(
        got, [0.75], what, hint="with zero weights the last layer outputs σ(its bias) = σ(ln 3) = 0.75"
    )

    # The network of the perceptron XOR, with every weight and bias scaled by c = 20: sigmoid
    # neurons with large weights behave like perceptrons (Nielsen's "simulating perceptrons").
    c = 20.0
    W1 = c * np.array([[1.0, 1.0], [-1.0, -1.0]])  # (2, 2) OR, NAND
    b1 = c * np.array([-0.5, 1.5])  # (2,)
    W2 = c * np.array([[1.0, 1.0]])  # (1, 2) AND
    b2 = c * np.array([-1.5])  # (1,)
    for x, target in zip(X_BOOL, Y_XOR, strict=True):
        what = f"feedforward of a 2-2-1 sigmoid network with large weights on x = {_fmt(x)}"
        got = run([W1, W2], [b1, b2], x, what)
        if abs(float(got[0]) - target) > 0.01:
            raise CheckFailed(
                f"{what} returned {float(got[0]):.4f}; this network approximates XOR, so expected about "
                f"{target} — apply σ(W a + b) layer after layer, the output of one layer feeding the next"
            )

    # A deeper random network equals the composition of its parts.
    sizes = [4, 5, 3, 2]
    weights = [rng.normal(size=(m, n)) for n, m in itertools.pairwise(sizes)]
    biases = [rng.normal(size=m) for m in sizes[1:]]
    a = rng.normal(size=4)  # (4,)
    whole = run(weights, biases, a, "feedforward of a [4, 5, 3, 2] network")
    first = run(weights[:1], biases[:1], a, "feedforward of its first layer")
    rest = run(weights[1:], biases[1:], first, "feedforward of its last two layers")
    expect_close(
        whole,
        rest,
        "feedforward of a [4, 5, 3, 2] network",
        hint="the whole network should equal its first layer followed by the other two",
    )
    return "one layer, zero weights, a sigmoid XOR network and a 3-layer composition all check out"


def _bits(d: int) -> np.ndarray:
    return np.array([(d >> j) & 1 for j in range(4)])  # least significant bit first


def _adversarial_activations(W: np.ndarray, d: int, j: int, want: int) -> np.ndarray:
    """The activations allowed by the exercise (digit ``d`` at ≥ 0.99, every other digit below
    0.01) that push output bit ``j`` hardest away from ``want``: the worst case for a linear layer."""
    toward = W[j] if want == 1 else -W[j]  # (10,) > 0 where a larger activation helps bit j
    a = np.where(toward < 0, 0.0099, 0.0)  # (10,) wrong digits: as large as allowed where they hurt
    a[d] = 0.99 if toward[d] > 0 else 1.0
    return a


@checker("step1.binary_output_layer")
def check_binary_output_layer(binary_layer: Callable[[], Any]) -> str:
    expect_callable(binary_layer, "binary_layer")
    result = binary_layer()
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise CheckFailed("binary_layer() should return two values: (W, b)")
    W = expect_shape(result[0], (4, 10), "W (one row per output bit, one column per digit neuron)")
    b = expect_shape(result[1], (4,), "b (one bias per output bit)")
    worst = 0.0  # the largest distance of an output from its bit
    for d in range(10):
        want = _bits(d)  # (4,)
        one_hot = np.eye(10)[d]  # (10,)
        out = _sigma(W @ one_hot + b)  # (4,)
        got = (out > 0.5).astype(int)
        if np.array_equal(got, want[::-1]) and not np.array_equal(want, want[::-1]):
            raise CheckFailed(
                f"for digit {d} the output bits come out in reverse order {tuple(int(v) for v in got)}: "
                "neuron 0 should be the 1s bit, neuron 1 the 2s, neuron 2 the 4s and neuron 3 the 8s"
            )
        if not np.array_equal(got, want):
            raise CheckFailed(
                f"for digit {d} given as a perfect one-hot activation your layer outputs "
                f"{_fmt(out.round(3))}, which reads as bits {tuple(int(v) for v in got)} (1s bit first); "
                f"expected {tuple(int(v) for v in want)}"
            )
        for j in range(4):
            a = _adversarial_activations(W, d, j, int(want[j]))  # (10,)
            out_j = float(_sigma(W[j] @ a + b[j]))
            if (out_j > 0.5) != bool(want[j]):
                raise CheckFailed(
                    f"for digit {d} your layer works on a perfect one-hot activation, but with activations "
                    f"the exercise allows (digit {d} at {a[d]:g}, some other digits at 0.0099) "
                    f"bit {j} comes out {out_j:.3f}, on the wrong side of 0.5 — make the weights "
                    "stronger than what those small activations can add up to"
                )
            worst = max(worst, abs(out_j - float(want[j])))
    return (
        "all 10 digits come out in binary, even in the worst case; "
        f"every output is within {worst:.2g} of its bit"
    )
