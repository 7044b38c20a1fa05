"""Checkers for notebook 5.1, convolution and pooling by hand (``step5.conv_output_size``,
``step5.conv2d``, ``step5.max_pool2d``): sizes worked by hand, and TensorFlow's own
``tf.nn.conv2d`` / ``tf.nn.max_pool2d`` on random inputs made here. TensorFlow is imported lazily.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close

# conv_output_size ---------------------------------------------------------------------------

# (n, k, stride, padding) -> output size, each worked out by hand.
OUTPUT_SIZES: list[tuple[tuple[int, int, int, int | str], int, str]] = [
    ((5, 3, 1, 0), 3, ""),
    ((5, 3, 1, 1), 5, ""),
    ((7, 3, 2, 0), 3, ""),
    ((7, 3, 2, 1), 4, ""),
    ((8, 3, 2, 0), 3, "the window must fit entirely inside the padded input, so round down"),
    ((32, 5, 1, 0), 28, "LeNet-5's first layer: 32×32 input, 5×5 filters"),
    ((28, 2, 2, 0), 14, "LeNet-5's first pooling layer"),
    ((227, 11, 4, 0), 55, "AlexNet's first layer: 11×11 filters, stride 4"),
    ((224, 11, 4, 2), 55, "AlexNet's first layer with 2 pixels of padding"),
    ((55, 3, 2, 0), 27, "AlexNet's overlapping max-pooling: 3×3 windows, stride 2"),
    ((5, 5, 1, "VALID"), 1, "'VALID' means no padding at all"),
    ((6, 3, 2, "VALID"), 2, "'VALID' means no padding at all"),
    ((8, 3, 1, "SAME"), 8, "'SAME' with stride 1 keeps the size"),
    ((6, 3, 2, "SAME"), 3, "'SAME' gives ceil(n / stride)"),
    ((7, 3, 2, "SAME"), 4, "'SAME' gives ceil(n / stride), rounding up"),
    ((28, 5, 1, "SAME"), 28, "'SAME' with stride 1 keeps the size"),
    # Even kernels: 'SAME' pads k - 1 zeros in all, which p = k // 2 on each side overshoots by one.
    (
        (5, 2, 1, "SAME"),
        5,
        "'SAME' keeps the size with stride 1, even for an even kernel "
        "(k // 2 zeros on each side would pad k, not k - 1)",
    ),
    (
        (6, 4, 2, "SAME"),
        3,
        "'SAME' gives ceil(n / stride) whatever the kernel: it is not p = k // 2 on each side",
    ),
]


def _call(n: int, k: int, s: int, p: int | str) -> str:
    return f"conv_output_size(n={n}, k={k}, stride={s}, padding={p!r})"


@checker("step5.conv_output_size")
def check_conv_output_size(conv_output_size: Any) -> str:
    expect_callable(conv_output_size, "conv_output_size")
    for (n, k, s, p), want, note in OUTPUT_SIZES:
        got = conv_output_size(n, k, s, p)
        what = _call(n, k, s, p)
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            if isinstance(got, float | np.floating) and float(got).is_integer():
                raise CheckFailed(f"{what} returned {got!r}, a float; return an int (use // to divide)")
            raise CheckFailed(f"{what} returned {got!r}; expected an int")
        if got != want:
            why = note
            if isinstance(p, int) and p and got == (n + p - k) // s + 1:
                why = "padding p adds p pixels on *each* side"
            elif not why and got == want - 1:
                why = "did you forget the +1? Count the window's first position too"
            raise CheckFailed(f"{what} returned {got}; expected {want}" + (f" — {why}" if why else ""))
    return f"all {len(OUTPUT_SIZES)} sizes right, from LeNet-5's 32→28 to AlexNet's 227→55"


# conv2d and max_pool2d against TensorFlow ---------------------------------------------------


def _tf() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    return tf


def _tf_padding(padding: int | str) -> Any:
    if isinstance(padding, str):
        return padding
    return [[0, 0], [padding, padding], [padding, padding], [0, 0]]


def _same_split(n: int, k: int, s: int) -> list[int]:
    """TensorFlow's 'SAME' padding (before, after) along one axis: the odd zero goes after."""
    out = -(-n // s)  # ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return [total // 2, total - total // 2]


# (N, H, W, C_in, KH, KW, C_out, stride, padding)
CONV_CASES: list[tuple[int, int, int, int, int, int, int, int, int | str]] = [
    (2, 5, 6, 3, 3, 3, 4, 1, "VALID"),
    (2, 5, 6, 3, 3, 3, 4, 1, "SAME"),
    (1, 7, 7, 2, 3, 3, 3, 2, "SAME"),
    (2, 8, 9, 2, 3, 3, 2, 2, "VALID"),
    (1, 6, 6, 1, 2, 2, 2, 1, "SAME"),
    (2, 6, 5, 3, 3, 3, 2, 1, 1),
    (1, 9, 9, 2, 5, 5, 3, 2, 2),
    (2, 4, 4, 3, 1, 1, 2, 1, "VALID"),
    (1, 6, 7, 2, 2, 3, 2, 1, "VALID"),
]


def _describe(shape_x: tuple[int, ...], shape_w: tuple[int, ...], stride: int, padding: int | str) -> str:
    return f"x of shape {shape_x}, w of shape {shape_w}, stride={stride}, padding={padding!r}"


@checker("step5.conv2d")
def check_conv2d(conv2d: Any) -> str:
    expect_callable(conv2d, "conv2d")
    # 1. Worked by hand: a 2×2 filter on a 3×3 image; each output is a weighted sum of a 2×2 patch.
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # [[1 2 3] [4 5 6] [7 8 9]]
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    got = as_array(conv2d(x, w, 1, "VALID"), "conv2d(x, w)")
    want = np.array([37.0, 47.0, 67.0, 77.0]).reshape(1, 2, 2, 1)
    if got.shape == want.shape and np.allclose(got, np.array([23.0, 33.0, 53.0, 63.0]).reshape(1, 2, 2, 1)):
        raise CheckFailed(
            "on the 3×3 image 1..9 with the 2×2 filter [[1, 2], [3, 4]] you returned 23 at the top left; "
            "expected 37 = 1·1 + 2·2 + 4·3 + 5·4 — your kernel is flipped: deep-learning libraries "
            "compute cross-correlation (no flip)"
        )
    expect_close(got, want, "conv2d on the 3×3 image 1..9 with the 2×2 filter [[1, 2], [3, 4]] (NHWC)")

    tf = _tf()
    rng = np.random.default_rng(5)
    for n, h, wd, cin, kh, kw, cout, stride, padding in CONV_CASES:
        x = rng.normal(size=(n, h, wd, cin))  # (N, H, W, C_in)
        w = rng.normal(size=(kh, kw, cin, cout))  # (KH, KW, C_in, C_out)
        x_copy = x.copy()
        desc = _describe(x.shape, w.shape, stride, padding)
        got = as_array(conv2d(x, w, stride, padding), f"conv2d with {desc}")
        want = tf.nn.conv2d(x, w, stride, _tf_padding(padding)).numpy()
        if not np.array_equal(x, x_copy):
            raise CheckFailed(f"conv2d changed its input x (with {desc}); pad a copy instead")
        if got.shape != want.shape:
            raise CheckFailed(f"conv2d with {desc} returned shape {got.shape}; expected {want.shape}")
        if np.allclose(got, want, atol=1e-5, rtol=1e-5):
            continue
        flipped = tf.nn.conv2d(x, w[::-1, ::-1], stride, _tf_padding(padding)).numpy()
        if np.allclose(got, flipped, atol=1e-5, rtol=1e-5):
            raise CheckFailed(
                f"with {desc} your kernel is flipped: compute cross-correlation, as TensorFlow does"
            )
        if padding == "SAME":
            rows, cols = _same_split(h, kh, stride), _same_split(wd, kw, stride)
            if rows != rows[::-1] or cols != cols[::-1]:  # odd total padding: try the extra zero top-left
                wrong = tf.nn.conv2d(x, w, stride, [[0, 0], rows[::-1], cols[::-1], [0, 0]]).numpy()
                if np.allclose(got, wrong, atol=1e-5, rtol=1e-5):
                    raise CheckFailed(
                        f"with {desc} the output is shifted: when the total 'SAME' padding is odd, "
                        "TensorFlow puts the extra zero at the bottom and right, not the top and left"
                    )
        expect_close(got, want, f"conv2d with {desc}", atol=1e-5, rtol=1e-5)
    return (
        f"matches tf.nn.conv2d on {len(CONV_CASES)} random cases (strides 1–2; VALID, SAME, padding 1 and 2)"
    )


# (N, H, W, C, size, stride (None: = size), padding)
POOL_CASES: list[tuple[int, int, int, int, int, int | None, str]] = [
    (2, 6, 6, 3, 2, None, "VALID"),
    (2, 7, 7, 2, 2, None, "VALID"),
    (1, 9, 9, 3, 3, 2, "VALID"),  # AlexNet's overlapping pooling
    (2, 7, 8, 2, 3, 2, "SAME"),  # the TensorFlow CIFAR-10 tutorial's pool1
    (1, 5, 5, 2, 2, 1, "SAME"),
    (2, 5, 6, 1, 2, 2, "SAME"),
]


@checker("step5.max_pool2d")
def check_max_pool2d(max_pool2d: Any) -> str:
    expect_callable(max_pool2d, "max_pool2d")
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    got = as_array(max_pool2d(x, 2), "max_pool2d(x, 2)")
    want = np.array([5.0, 7.0, 13.0, 15.0]).reshape(1, 2, 2, 1)
    if got.shape == want.shape and np.allclose(got, want - 2.5):
        raise CheckFailed("max_pool2d on the 4×4 image 0..15 returned the window averages; take the maximum")
    expect_close(got, want, "max_pool2d(x, 2) on the 4×4 image 0..15 (stride defaults to the window size)")

    neg = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # all negative: padding must never win
    got = as_array(max_pool2d(neg, 2, 2, "SAME"), "max_pool2d(x, 2, 2, 'SAME')")
    want = np.array([-1.0, -3.0, -7.0, -9.0]).reshape(1, 2, 2, 1)
    if got.shape == want.shape and np.any(got == 0.0):
        raise CheckFailed(
            "max_pool2d(x, 2, 2, 'SAME') on an all-negative 3×3 image returned 0 where a window hangs over "
            "the edge: the padding won. Pad with -inf (or take the max over real pixels only)"
        )
    expect_close(got, want, "max_pool2d(x, 2, 2, 'SAME') on the 3×3 image -1..-9")

    tf = _tf()
    rng = np.random.default_rng(7)
    for n, h, w, c, size, stride, padding in POOL_CASES:
        x = rng.normal(size=(n, h, w, c)).astype(np.float32)  # (N, H, W, C)
        desc = f"x of shape {x.shape}, size={size}, stride={stride}, padding={padding!r}"
        got = as_array(max_pool2d(x, size, stride, padding), f"max_pool2d with {desc}")
        want = tf.nn.max_pool2d(x, size, stride or size, padding).numpy()
        if got.shape != want.shape:
            raise CheckFailed(f"max_pool2d with {desc} returned shape {got.shape}; expected {want.shape}")
        expect_close(got, want, f"max_pool2d with {desc}", atol=1e-6, rtol=1e-6)
    return (
        f"matches tf.nn.max_pool2d on {len(POOL_CASES)} random cases, overlapping and 'SAME' windows included"
    )
