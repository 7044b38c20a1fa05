"""Step 5.4 checkers (shifts, augmentation, a fixed pixel permutation): each passes right answers
written two ways and fails the typical wrong ones with a message that names the cause."""

from __future__ import annotations

from typing import Any

import numpy as np

from dl7.checks import evaluate
from tests.checking import expect_failed, stub

# shift_images -------------------------------------------------------------------------------


def shift_slices(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    h, w = x.shape[1:3]
    out = np.zeros_like(x)
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def shift_pad_crop(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Written differently: pad by the largest shift on every side, then cut the window out."""
    h, w = x.shape[1:3]
    p = max(abs(dy), abs(dx))
    padded = np.pad(x, [(0, 0), (p, p), (p, p), (0, 0)])
    return padded[:, p - dy : p - dy + h, p - dx : p - dx + w].copy()


def test_shift_images_right_two_ways() -> None:
    for fn in (shift_slices, shift_pad_crop):
        r = evaluate("step5.shift_images", fn)
        assert r.status == "passed", r.message


def test_shift_images_not_attempted() -> None:
    assert evaluate("step5.shift_images", stub).status == "not_attempted"


def test_shift_images_roll_wraps_around() -> None:
    r = evaluate("step5.shift_images", lambda x, dy, dx: np.roll(x, (dy, dx), axis=(1, 2)))
    expect_failed(r, "returned [7 8 9 | 1 2 3 | 4 5 6]", "np.roll", "zeros")


def test_shift_images_opposite_direction() -> None:
    r = evaluate("step5.shift_images", lambda x, dy, dx: shift_slices(x, -dy, -dx))
    expect_failed(r, "[4 5 6 | 7 8 9 | 0 0 0]", "opposite way", "positive dy moves the content down")


def test_shift_images_swapped_axes() -> None:
    r = evaluate("step5.shift_images", lambda x, dy, dx: shift_slices(x, dx, dy))
    expect_failed(r, "dy and dx are swapped", "axis 1")


def test_shift_images_in_place() -> None:
    def in_place(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
        x[:] = shift_slices(x, dy, dx)
        return x

    expect_failed(evaluate("step5.shift_images", in_place), "changed its input x")


def test_shift_images_minus_zero_slice() -> None:
    def minus_zero(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
        out = np.zeros_like(x)
        rows_out, rows_in = (
            (slice(dy, None), slice(None, -dy)) if dy >= 0 else (slice(None, dy), slice(-dy, None))
        )
        cols_out, cols_in = (
            (slice(dx, None), slice(None, -dx)) if dx >= 0 else (slice(None, dx), slice(-dx, None))
        )
        out[:, rows_out, cols_out] = x[:, rows_in, cols_in]  # x[:, :-0] is empty when dy == 0
        return out

    expect_failed(evaluate("step5.shift_images", minus_zero), "raised ValueError", "-0 is 0")


def test_shift_images_float64() -> None:
    def as_float64(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
        return shift_slices(x.astype(np.float64), dy, dx)

    expect_failed(evaluate("step5.shift_images", as_float64), "dtype float64", "float32")


# augment ------------------------------------------------------------------------------------


def augment_loop(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty_like(x)
    for i in range(len(x)):
        dy, dx = rng.integers(-1, 2, size=2)
        out[i] = shift_slices(x[i : i + 1], int(dy), int(dx))[0]
    return out, y


def augment_grouped(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Written differently: draw every shift first, then shift each group of images at once."""
    dys, dxs = rng.choice([-1, 0, 1], size=len(x)), rng.choice([-1, 0, 1], size=len(x))
    out = np.zeros_like(x)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            sel = (dys == dy) & (dxs == dx)
            out[sel] = shift_pad_crop(x[sel], dy, dx)
    return out, y.copy()


def test_augment_right_two_ways() -> None:
    for fn in (augment_loop, augment_grouped):
        r = evaluate("step5.augment", fn)
        assert r.status == "passed", r.message
        assert "all 9" in r.message


def test_augment_not_attempted() -> None:
    assert evaluate("step5.augment", stub).status == "not_attempted"


def test_augment_one_shift_per_batch() -> None:
    def one_shift(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        dy, dx = rng.integers(-1, 2, size=2)
        return shift_slices(x, int(dy), int(dx)), y

    expect_failed(evaluate("step5.augment", one_shift), "every image was shifted by the same")


def test_augment_excluded_upper_bound() -> None:
    def never_plus_one(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        out = np.empty_like(x)
        for i in range(len(x)):
            dy, dx = rng.integers(-1, 1, size=2)
            out[i] = shift_slices(x[i : i + 1], int(dy), int(dx))[0]
        return out, y

    expect_failed(
        evaluate("step5.augment", never_plus_one), "never took the value(s) [1]", "rng.integers(-1, 2)"
    )


def test_augment_in_place() -> None:
    def in_place(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        for i in range(len(x)):
            dy, dx = rng.integers(-1, 2, size=2)
            x[i] = shift_slices(x[i : i + 1], int(dy), int(dx))[0]
        return x, y

    expect_failed(evaluate("step5.augment", in_place), "changed the caller's x in place")


def test_augment_shuffles_images_not_labels() -> None:
    def shuffled(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        out, _ = augment_loop(x, y, rng)
        return out[rng.permutation(len(x))], y

    expect_failed(evaluate("step5.augment", shuffled), "reordered")


def test_augment_rolls() -> None:
    def rolled(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        out = np.empty_like(x)
        for i in range(len(x)):
            dy, dx = rng.integers(-1, 2, size=2)
            out[i] = np.roll(x[i], (dy, dx), axis=(0, 1))
        return out, y

    expect_failed(evaluate("step5.augment", rolled), "np.roll")


def test_augment_diagonal_only_and_global_random() -> None:
    def diagonal(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        out = np.empty_like(x)
        for i in range(len(x)):
            d = int(rng.integers(-1, 2))
            out[i] = shift_slices(x[i : i + 1], d, d)[0]
        return out, y

    expect_failed(evaluate("step5.augment", diagonal), "dy always equalled dx")

    def global_random(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        return augment_loop(x, y, np.random.default_rng())

    expect_failed(evaluate("step5.augment", global_random), "gave different shifts")


def test_augment_returns_images_only() -> None:
    expect_failed(evaluate("step5.augment", lambda x, y, rng: augment_loop(x, y, rng)[0]), "return the pair")


# permuted_pixels ----------------------------------------------------------------------------


def permute_reshape(x: np.ndarray, seed: int = 0) -> np.ndarray:
    n, h, w, c = x.shape
    perm = np.random.default_rng(seed).permutation(h * w)
    return x.reshape(n, h * w, c)[:, perm].reshape(x.shape)


def permute_scatter(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Written differently: scatter each pixel to its new (row, column) with a loop."""
    h, w = x.shape[1:3]
    rng = np.random.RandomState(seed)
    target = rng.permutation(h * w)
    out = np.empty_like(x)
    for p, q in enumerate(target):
        out[:, q // w, q % w, :] = x[:, p // w, p % w, :]
    return out


def test_permuted_pixels_right_two_ways() -> None:
    for fn in (permute_reshape, permute_scatter):
        r = evaluate("step5.permuted_pixels", fn)
        assert r.status == "passed", r.message


def test_permuted_pixels_not_attempted() -> None:
    assert evaluate("step5.permuted_pixels", stub).status == "not_attempted"


def test_permuted_pixels_one_per_image() -> None:
    def per_image(x: np.ndarray, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n, h, w, c = x.shape
        flat = x.reshape(n, h * w, c)
        return np.stack([img[rng.permutation(h * w)] for img in flat]).reshape(x.shape)

    expect_failed(evaluate("step5.permuted_pixels", per_image), "different permutations", "ONE")


def test_permuted_pixels_unseeded() -> None:
    def unseeded(x: np.ndarray, seed: int = 0) -> np.ndarray:
        n, h, w, c = x.shape
        return x.reshape(n, h * w, c)[:, np.random.permutation(h * w)].reshape(x.shape)

    expect_failed(evaluate("step5.permuted_pixels", unseeded), "shuffled the pixels differently")


def test_permuted_pixels_rows_only() -> None:
    def rows(x: np.ndarray, seed: int = 0) -> np.ndarray:
        return x[:, np.random.default_rng(seed).permutation(x.shape[1])]

    expect_failed(evaluate("step5.permuted_pixels", rows), "whole rows moved together")


def test_permuted_pixels_splits_channels() -> None:
    def flat(x: np.ndarray, seed: int = 0) -> np.ndarray:
        n = len(x)
        return x.reshape(n, -1)[:, np.random.default_rng(seed).permutation(x[0].size)].reshape(x.shape)

    expect_failed(evaluate("step5.permuted_pixels", flat), "channels were split up")


def test_permuted_pixels_identity_and_in_place() -> None:
    expect_failed(evaluate("step5.permuted_pixels", lambda x, seed=0: x.copy()), "unchanged")

    def in_place(x: np.ndarray, seed: int = 0) -> np.ndarray:
        x[:] = permute_reshape(x, seed)
        return x

    expect_failed(evaluate("step5.permuted_pixels", in_place), "changed its input x")
