"""Checkers for notebook 5.4, what convolutions buy (``step5.shift_images``, ``step5.augment``,
``step5.permuted_pixels``): shifts with zero fill worked by hand and on random batches, the
statistics of a random-shift augmentation over many images, and the properties of one fixed
pixel permutation. Plain numpy: every expected value follows from the definitions, on images
made here whose every pixel is distinct, so a misplaced pixel cannot hide.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import expect_callable

# A reference shift, from the definition: out[n, i, j] = x[n, i - dy, j - dx], zero outside.


def _shifted(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    h, w = x.shape[1:3]
    out = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[:, i, j] = x[:, i - dy, j - dx]
    return out


def _rolled(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    return np.roll(x, (dy, dx), axis=(1, 2))


def _grid(x: np.ndarray) -> str:
    """A (1, H, W, 1) array as rows of numbers, for a message."""
    rows = [" ".join(f"{v:g}" for v in row) for row in np.asarray(x, dtype=float)[0, :, :, 0]]
    return "[" + " | ".join(rows) + "]"


def _array(value: Any, what: str) -> np.ndarray:
    if value is None:
        raise CheckFailed(f"{what} returned None; did you forget a `return`?")
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} returned a {type(value).__name__}; return a numpy array")
    return value


def _shift_cause(got: np.ndarray, x: np.ndarray, dy: int, dx: int) -> str:
    """Why ``got`` is not ``x`` shifted by (dy, dx), when a typical slip explains it."""
    if got.shape != x.shape:
        return ""
    if (dy or dx) and np.array_equal(got, _rolled(x, dy, dx)):
        return (
            "the pixels pushed out on one side came back on the other: that is np.roll's wrap-around; "
            "a shift fills the uncovered rows and columns with zeros"
        )
    if np.array_equal(got, x) and (dy or dx):
        return "that is the input unchanged"
    if np.array_equal(got, _shifted(x, -dy, -dx)):
        return "the image moved the opposite way: positive dy moves the content down, positive dx right"
    if dy != dx and np.array_equal(got, _shifted(x, dx, dy)):
        return "dy and dx are swapped: dy moves along the height (axis 1), dx along the width (axis 2)"
    if dy != dx and np.array_equal(got, _shifted(x, -dx, -dy)):
        return "dy and dx are swapped and the direction is reversed"
    if (dy == 0 or dx == 0) and not np.any(got) and np.any(x):
        return "all zeros: check the slices for a shift of 0 — x[:-0] is empty, because -0 is 0"
    return ""


# shift_images ---------------------------------------------------------------------------------


def _call_shift(shift_images: Any, x: np.ndarray, dy: int, dx: int, what: str) -> np.ndarray:
    try:
        got = shift_images(x, dy, dx)
    except ValueError as exc:  # numpy's "could not broadcast ... (1,0,3,1) into ..." from x[:-0]
        if (dy == 0 or dx == 0) and "broadcast" in str(exc):
            raise CheckFailed(
                f"{what} raised ValueError: {exc} — with a shift of 0 a slice like x[:, :-0] is empty, "
                "because -0 is 0; handle 0 (or write the end as h - dy, not -dy)"
            ) from None
        raise
    return _array(got, what)


@checker("step5.shift_images")
def check_shift_images(shift_images: Any) -> str:
    expect_callable(shift_images, "shift_images")
    # 1. By hand: the 3×3 image 1..9 moved one row down, then one column left.
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # [[1 2 3] [4 5 6] [7 8 9]]
    for (dy, dx), rows in [
        ((1, 0), [[0, 0, 0], [1, 2, 3], [4, 5, 6]]),
        ((0, -1), [[2, 3, 0], [5, 6, 0], [8, 9, 0]]),
        ((0, 0), [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    ]:
        what = f"shift_images(x, dy={dy}, dx={dx}) on the 3×3 image 1..9"
        before = x.copy()
        got = _call_shift(shift_images, x, dy, dx, what)
        if not np.array_equal(x, before):
            raise CheckFailed(f"{what} changed its input x; fill a new array (np.zeros_like(x)) instead")
        expected = np.array(rows, dtype=float).reshape(1, 3, 3, 1)
        if got.shape != x.shape:
            raise CheckFailed(f"{what} returned shape {got.shape}; expected {x.shape}, the input's shape")
        if not np.array_equal(got, expected):
            cause = _shift_cause(got, x, dy, dx)
            raise CheckFailed(
                f"{what} returned {_grid(got)}; expected {_grid(expected)}" + (f" — {cause}" if cause else "")
            )

    # 2. Random batches: several images, channels, a non-square size, every shift up to 2 pixels.
    rng = np.random.default_rng(11)
    x = rng.permutation(2 * 5 * 6 * 3).reshape(2, 5, 6, 3).astype(np.float32) + 1  # distinct, > 0
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            what = f"shift_images(x, dy={dy}, dx={dx}) on a batch of shape {x.shape}"
            before = x.copy()
            got = _call_shift(shift_images, x, dy, dx, what)
            if not np.array_equal(x, before):
                raise CheckFailed(f"{what} changed its input x; fill a new array instead")
            if got.shape != x.shape:
                raise CheckFailed(f"{what} returned shape {got.shape}; expected {x.shape}")
            if got.dtype != x.dtype:
                raise CheckFailed(
                    f"{what} returned dtype {got.dtype} for a {x.dtype} input; keep the input's dtype "
                    "(np.zeros_like(x) does) — Keras trains on float32"
                )
            want = _shifted(x, dy, dx)
            if not np.array_equal(got, want):
                cause = _shift_cause(got, x, dy, dx)
                wrong = np.argwhere(got != want)[0]
                n, i, j, c = (int(v) for v in wrong)
                raise CheckFailed(
                    f"{what}: out[{n}, {i}, {j}, {c}] is {got[n, i, j, c]:g}; expected {want[n, i, j, c]:g}"
                    + (f" — {cause}" if cause else "")
                )
    return "matches the definition on 28 shifts, by hand and on a batch of 5×6 images with 3 channels"


# augment ------------------------------------------------------------------------------------

SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def _which_shift(got: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For each image, the index in SHIFTS of the shift that turns x[i] into got[i], or -1."""
    found = np.full(len(x), -1)
    for k, (dy, dx) in enumerate(SHIFTS):
        match = np.all(got == _shifted(x, dy, dx), axis=(1, 2, 3))
        found[(found == -1) & match] = k
    return found


def _call_augment(augment: Any, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, Any]:
    what = f"augment(x, y, rng) on {len(x)} images"
    out = augment(x, y, np.random.default_rng(seed))
    if not isinstance(out, tuple) or len(out) != 2:
        raise CheckFailed(f"{what} returned {type(out).__name__}; return the pair (x_shifted, y)")
    return _array(out[0], what), out[1]


@checker("step5.augment")
def check_augment(augment: Any) -> str:
    expect_callable(augment, "augment")
    rng = np.random.default_rng(3)
    n = 900  # 100 of each of the 9 shifts on average
    x = (0.1 + 0.9 * rng.random((n, 6, 7, 1))).astype(np.float32)  # no zero pixel: every shift differs
    y = rng.integers(0, 10, n)
    x_before, y_before = x.copy(), y.copy()
    got, labels = _call_augment(augment, x, y, seed=0)
    what = f"augment(x, y, rng) on {n} images of shape {x.shape[1:]}"
    if not np.array_equal(x, x_before):
        raise CheckFailed(
            f"{what} changed the caller's x in place; the training loop reuses x every epoch, so each epoch "
            "would shift the already shifted images further — write into a new array"
        )
    if got.shape != x.shape:
        raise CheckFailed(f"{what} returned images of shape {got.shape}; expected {x.shape}")
    if got.dtype != x.dtype:
        raise CheckFailed(f"{what} returned dtype {got.dtype} for {x.dtype} images; keep the input's dtype")
    labels_arr = np.asarray(labels) if labels is not None else None
    if labels_arr is None or labels_arr.shape != y.shape or not np.array_equal(labels_arr, y_before):
        raise CheckFailed(
            f"{what}: the labels that came back are not y, in y's order; a shift does not change which "
            "digit an image shows, so return the labels untouched"
        )
    which = _which_shift(got, x)
    if np.any(which == -1):
        i = int(np.flatnonzero(which == -1)[0])
        rolled = any(np.array_equal(got[i], _rolled(x[i : i + 1], dy, dx)[0]) for dy, dx in SHIFTS)
        others = [
            k
            for k in range(n)
            if k != i and any(np.array_equal(got[i], _shifted(x[k : k + 1], *s)[0]) for s in SHIFTS)
        ]
        if rolled:
            cause = "it wrapped around (np.roll); shift with zero fill, as shift_images does"
        elif others:
            cause = (
                f"it is a shifted copy of image {others[0]}: the images were reordered, "
                "so they no longer match y"
            )
        else:
            cause = "each image must be moved by at most one pixel along each axis, with zero fill"
        raise CheckFailed(
            f"{what}: image {i} is not image {i} shifted by one of the 9 shifts in [-1, 1]² — {cause}"
        )

    counts = np.bincount(which, minlength=len(SHIFTS))  # (9,) images per shift
    dys = np.array([SHIFTS[k][0] for k in which])
    dxs = np.array([SHIFTS[k][1] for k in which])
    seen = ", ".join(f"{s}: {c}" for s, c in zip(SHIFTS, counts, strict=True) if c)
    if np.count_nonzero(counts) == 1:
        dy, dx = SHIFTS[int(np.argmax(counts))]
        raise CheckFailed(
            f"{what}: every image was shifted by the same (dy, dx) = ({dy}, {dx}); draw a new shift for "
            "each image, or the network sees the whole batch move together"
        )
    for name, values in (("dy", dys), ("dx", dxs)):
        missing = sorted({-1, 0, 1} - set(values.tolist()))
        if missing:
            hint = (
                " — rng.integers(-1, 1) never gives 1: its upper bound is excluded, use rng.integers(-1, 2)"
                if missing == [1]
                else ""
            )
            raise CheckFailed(f"{what}: {name} never took the value(s) {missing}; shifts seen: {seen}{hint}")
    if np.array_equal(dys, dxs):
        raise CheckFailed(f"{what}: dy always equalled dx (only diagonal shifts); draw the two independently")
    low, high = int(counts.min()), int(counts.max())
    if low < 50 or high > 160:  # 100 expected each; outside [50, 160] has probability < 1e-6
        raise CheckFailed(f"{what}: the 9 shifts should be about equally likely (about 100 each); got {seen}")
    got_again, _ = _call_augment(augment, x, y, seed=0)
    if not np.array_equal(got, got_again):
        raise CheckFailed(
            f"{what}: two calls with rng = np.random.default_rng(0) gave different shifts; draw them from "
            "the rng you were given (rng.integers), not np.random, so a run can be repeated"
        )
    other, _ = _call_augment(augment, x, y, seed=1)
    if np.array_equal(got, other):
        raise CheckFailed(f"{what}: a different rng gave exactly the same shifts; draw them from the rng")
    return f"each of {n} images got its own shift, all 9 about equally often ({low}–{high} each); labels kept"


# permuted_pixels ----------------------------------------------------------------------------


def _positions(got: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """For each image and output position, the input position its pixel came from; None if a
    pixel is not an input pixel with its channels intact. x[n, p, :] codes (n, p) uniquely."""
    n, h, w, c = x.shape
    flat_x = x.reshape(n, h * w, c)
    flat_got = got.reshape(n, h * w, c)
    source = np.full((n, h * w), -1)
    for k in range(n):
        lookup = {tuple(row): p for p, row in enumerate(flat_x[k].tolist())}
        for p, row in enumerate(flat_got[k].tolist()):
            source[k, p] = lookup.get(tuple(row), -1)
    return None if np.any(source < 0) else source


@checker("step5.permuted_pixels")
def check_permuted_pixels(permute_pixels: Any) -> str:
    expect_callable(permute_pixels, "permute_pixels")
    n, h, w, c = 4, 5, 6, 3
    x = np.arange(n * h * w * c, dtype=np.float32).reshape(n, h, w, c)  # every number distinct
    what = f"permute_pixels(x, seed=0) on x of shape {x.shape}"
    before = x.copy()
    got = _array(permute_pixels(x, 0), what)
    if not np.array_equal(x, before):
        raise CheckFailed(f"{what} changed its input x; return a permuted copy")
    if got.shape != x.shape:
        raise CheckFailed(f"{what} returned shape {got.shape}; expected {x.shape}, the input's shape")
    source = _positions(got, x)
    if source is None:
        same_values = np.array_equal(np.sort(got.reshape(n, -1), axis=1), np.sort(x.reshape(n, -1), axis=1))
        if same_values:
            raise CheckFailed(
                f"{what}: the values of a pixel's {c} channels were split up; permute the H×W positions "
                f"(reshape to (N, H·W, C)) and move each pixel's channels together"
            )
        raise CheckFailed(f"{what}: the output holds values that are not the image's own pixels")
    if np.array_equal(got, x):
        raise CheckFailed(f"{what} returned the images unchanged; shuffle the pixel positions")
    per_image = {tuple(row) for row in source.tolist()}
    if len(per_image) > 1:
        raise CheckFailed(
            f"{what}: the {n} images were shuffled by {len(per_image)} different permutations; draw ONE "
            "permutation and apply it to every image — a network can only learn a fixed rearrangement"
        )
    perm = source[0]  # (H·W,) output position -> input position
    rows_in, rows_out = perm // w, np.arange(h * w) // w
    if all(len(set(rows_in[rows_out == r].tolist())) == 1 for r in range(h)):
        raise CheckFailed(
            f"{what}: whole rows moved together (each output row is one input row); shuffle the "
            f"{h}·{w} = {h * w} pixel positions, not the {h} rows"
        )
    cols_in, cols_out = perm % w, np.arange(h * w) % w
    if all(len(set(cols_in[cols_out == col].tolist())) == 1 for col in range(w)):
        raise CheckFailed(f"{what}: whole columns moved together; shuffle the {h * w} pixel positions")
    moved = float(np.mean(perm != np.arange(h * w)))
    if moved < 0.5:
        raise CheckFailed(f"{what}: only {moved:.0%} of the pixels moved; use a random permutation")
    again = _array(permute_pixels(x, 0), what)
    if not np.array_equal(again, got):
        raise CheckFailed(
            "two calls of permute_pixels(x, seed=0) shuffled the pixels differently; the training and "
            "test images must get the same permutation, so draw it from np.random.default_rng(seed)"
        )
    other = _array(permute_pixels(x, 1), "permute_pixels(x, seed=1)")
    if np.array_equal(other, got):
        raise CheckFailed("permute_pixels(x, seed=1) gave the same permutation as seed=0; use the seed")
    digits = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8, 1)
    twice = _array(permute_pixels(digits, 0), "permute_pixels on a (2, 8, 8, 1) batch")
    if twice.shape != digits.shape or _positions(twice, digits) is None:
        raise CheckFailed("permute_pixels on a (2, 8, 8, 1) batch did not return those images' own pixels")
    return (
        f"one fixed permutation of the {h * w} positions for every image, channels kept together, repeatable"
    )
