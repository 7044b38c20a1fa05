"""Checkers for notebook 5.3, from LeNet to AlexNet by the numbers (``step5.layer_params``,
``step5.receptive_field``): layer sizes published in the readings (Caffe's LeNet, Krizhevsky
et al.'s AlexNet), counted by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import expect_callable

# From LeNet to AlexNet: counting by hand ----------------------------------------------------

# (kh, kw, c_in, c_out) -> weights + biases, from the layer sizes in the readings.
CONV_PARAMS = [
    ((5, 5, 1, 20), 520, "Caffe LeNet conv1"),
    ((5, 5, 20, 50), 25_050, "Caffe LeNet conv2"),
    ((11, 11, 3, 96), 34_944, "AlexNet conv1"),
    ((3, 3, 256, 384), 885_120, "AlexNet conv3"),
    ((3, 3, 1, 32), 320, "a 3×3 layer of 32 filters on a grey image"),
    ((1, 1, 64, 16), 1_040, "a 1×1 convolution"),
    ((2, 3, 4, 5), 125, "a 2×3 kernel"),
]
DENSE_PARAMS = [
    ((800, 500), 400_500, "Caffe LeNet ip1"),
    ((500, 10), 5_010, "Caffe LeNet ip2"),
    ((9_216, 4_096), 37_752_832, "AlexNet's first fully-connected layer (6·6·256 inputs)"),
    ((4_096, 1_000), 4_097_000, "AlexNet's 1000-way output layer"),
]


@checker("step5.layer_params")
def check_layer_params(conv_params: Any, dense_params: Any) -> str:
    expect_callable(conv_params, "conv_params")
    expect_callable(dense_params, "dense_params")
    for (kh, kw, cin, cout), want, name in CONV_PARAMS:
        got = conv_params(kh, kw, cin, cout)
        what = f"conv_params({kh}, {kw}, {cin}, {cout}) ({name})"
        _expect_count(got, want, what, cout, "each of the filters has one bias too")
    for (nin, nout), want, name in DENSE_PARAMS:
        got = dense_params(nin, nout)
        _expect_count(
            got, want, f"dense_params({nin}, {nout}) ({name})", nout, "each output unit has one bias too"
        )
    return "right for Caffe's LeNet and for AlexNet's layers"


def _expect_count(got: Any, want: int, what: str, biases: int, bias_hint: str) -> None:
    if got is None:
        raise CheckFailed(f"{what} returned None; did you forget a `return`?")
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} returned {type(got).__name__}; expected a number") from None
    if value == want:
        return
    hint = ""
    if value == want - biases:
        hint = f" — {bias_hint}"
    raise CheckFailed(f"{what} returned {value:,.0f}; expected {want:,}{hint}")


RECEPTIVE_FIELDS: list[tuple[list[tuple[int, int]], int, str]] = [
    ([], 1, "no layers: one pixel sees itself"),
    ([(3, 1)], 3, "one 3×3 convolution"),
    ([(3, 1), (3, 1)], 5, "two stacked 3×3 convolutions"),
    ([(3, 1), (3, 1), (3, 1)], 7, "three stacked 3×3 convolutions"),
    ([(2, 2), (2, 2), (2, 2)], 8, "three 2×2 poolings with stride 2"),
    ([(3, 2), (3, 2)], 7, "after a stride-2 layer, neighbouring units are 2 input pixels apart"),
    ([(5, 1), (2, 2), (5, 1), (2, 2)], 16, "LeNet-5: conv 5, pool 2, conv 5, pool 2"),
    (
        [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)],
        195,
        "AlexNet's five conv layers and three max-poolings",
    ),
]


def _impulse_field(layers: list[tuple[int, int]]) -> int:
    """Width of the input interval that one top unit depends on, by walking the windows down."""
    lo, hi = 0, 0
    for k, s in reversed(layers):
        lo, hi = lo * s, hi * s + k - 1
    return hi - lo + 1


@checker("step5.receptive_field")
def check_receptive_field(receptive_field: Any) -> str:
    expect_callable(receptive_field, "receptive_field")
    rng = np.random.default_rng(11)
    cases = list(RECEPTIVE_FIELDS)
    for _ in range(6):  # random stacks, measured by following the windows down to the input
        depth = int(rng.integers(1, 6))
        stack = [(int(rng.integers(1, 6)), int(rng.integers(1, 4))) for _ in range(depth)]
        cases.append((stack, _impulse_field(stack), ""))
    for stack, want, note in cases:
        got = receptive_field(list(stack))
        what = f"receptive_field({stack})"
        if got is None:
            raise CheckFailed(f"{what} returned None; did you forget a `return`?")
        if got != want:
            raise CheckFailed(f"{what} returned {got}; expected {want}" + (f" — {note}" if note else ""))
    return "right for stacks of 3×3 convolutions, LeNet-5 (16 pixels) and AlexNet (195 pixels)"
