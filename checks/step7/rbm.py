"""Checkers for step 7's fifth notebook (05_rbm): ``step7.rbm_conditionals``,
``step7.rbm_sample``, ``step7.cd1_update`` and ``step7.rbm_train``.

A binary restricted Boltzmann machine with ``W`` of shape (n_visible, n_hidden), visible biases
``b`` and hidden biases ``c``. The facts: tiny cases worked by hand, the formulas of Hinton's
"A Practical Guide to Training RBMs" computed here on random cases (the learner's sampling is
made checkable by passing the uniform random numbers in), and a reconstruction error this module
measures itself on binarised held-out digits. Numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

# Training: the bound on the held-out reconstruction error, and what it is compared with.
RBM_MAX_ERROR = 0.08  # the notebook's solution reaches 0.054-0.056 (seeds 0, 1, 2)
RBM_MIN_HIDDEN = 16


def sigmoid(a: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(a, dtype=float))))


def _ref_ph(v: np.ndarray, w: np.ndarray, c: np.ndarray) -> np.ndarray:
    return sigmoid(v @ w + c)  # (N, n_hidden)


def _ref_pv(h: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return sigmoid(h @ w.T + b)  # (N, n_visible)


def _call(fn: Callable[..., Any], what: str, *args: Any) -> np.ndarray:
    """Call the learner's function; a shape error becomes a failure that names the shapes."""
    copies = [np.array(a, copy=True) for a in args]
    try:
        out = fn(*args)
    except ValueError as exc:
        if "shape" in str(exc) or "align" in str(exc) or "broadcast" in str(exc):
            shapes = ", ".join(str(np.shape(a)) for a in args if np.ndim(a) > 0)
            raise CheckFailed(
                f"{what} with arguments of shapes {shapes} raised ValueError: {exc} — "
                "W has shape (n_visible, n_hidden): is a product using W where it needs W.T, or the reverse?"
            ) from None
        raise
    for before, after in zip(copies, args, strict=True):
        if isinstance(after, np.ndarray) and not np.array_equal(before, after):
            raise CheckFailed(f"{what} changed one of its input arrays in place; compute new arrays instead")
    if isinstance(out, tuple):
        return out  # type: ignore[return-value]
    return as_array(out, what)


# Conditionals -------------------------------------------------------------------------------

# Worked by hand: v = (1, 0, 1), W (3 visible × 2 hidden), c = (0, -1): v W + c = (1, -1).
HAND_V = np.array([[1.0, 0.0, 1.0]])
HAND_W = np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]])
HAND_C = np.array([0.0, -1.0])
HAND_PH = sigmoid(np.array([[1.0, -1.0]]))  # (0.7311, 0.2689)
# h = (1, 0), b = (0, 0, -2): h W^T + b = (1, 2, -2).
HAND_H = np.array([[1.0, 0.0]])
HAND_B = np.array([0.0, 0.0, -2.0])
HAND_PV = sigmoid(np.array([[1.0, 2.0, -2.0]]))  # (0.7311, 0.8808, 0.1192)


def _diagnose_conditional(
    got: np.ndarray, x: np.ndarray, w: np.ndarray, bias: np.ndarray, *, hidden: bool
) -> str:
    right = "σ(v W + c)" if hidden else "σ(h Wᵀ + b)"
    prod = x @ w if hidden else x @ w.T
    other = None  # the product with W the other way round, possible only when W is square
    if w.shape[0] == w.shape[1]:
        other = x @ w.T if hidden else x @ w
    if np.allclose(got, sigmoid(prod)) and np.any(bias != 0):
        return f"the bias is missing: {right}"
    if other is not None and np.allclose(got, sigmoid(other + bias)):
        return f"W is used transposed: W has shape (n_visible, n_hidden), so {right}"
    if np.allclose(got, sigmoid(-(prod + bias))):
        return f"the sign is reversed: σ(a) = 1 / (1 + exp(−a)), and {right}"
    if np.allclose(got, prod + bias):
        return f"the sigmoid is missing: {right}"
    with np.errstate(all="ignore"):
        precedence = 1 + np.exp(-(prod + bias))
    if np.allclose(got, precedence):
        return (
            "that is 1 + exp(−a): 1 / 1 + np.exp(-a) divides 1 by 1 first; "
            f"write 1 / (1 + np.exp(-a)), or call the notebook's sigmoid — {right}"
        )
    if np.any(got < 0) or np.any(got > 1):
        low, high = float(got.min()), float(got.max())
        return f"a probability lies in [0, 1], yours run from {low:.4g} to {high:.4g}: {right}"
    return f"expected {right}"


def _check_conditional(
    fn: Any,
    name: str,
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray,
    want: np.ndarray,
    hidden: bool,
    desc: str,
) -> None:
    what = f"{name}({desc})"
    got = _call(fn, what, x, w, bias)
    if got.shape != want.shape:
        raise CheckFailed(f"{what} returned shape {got.shape}; expected {want.shape}, one row per example")
    if not np.allclose(got, want, atol=1e-6):
        i = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
        why = _diagnose_conditional(got, x, w, bias, hidden=hidden)
        raise CheckFailed(
            f"{what} is off at {tuple(int(k) for k in i)}: got {got[i]:.4f}, expected {want[i]:.4f} — {why}"
        )


@checker("step7.rbm_conditionals")
def check_rbm_conditionals(p_h_given_v: Any, p_v_given_h: Any) -> str:
    expect_callable(p_h_given_v, "p_h_given_v")
    expect_callable(p_v_given_h, "p_v_given_h")
    # A square W first, so that a transposed W gives wrong numbers rather than a shape error.
    sq_w = np.array([[1.0, 2.0], [-1.0, 0.0]])
    sq_x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    sq_bias = np.array([0.5, -0.5])
    _check_conditional(
        p_h_given_v,
        "p_h_given_v",
        sq_x,
        sq_w,
        sq_bias,
        _ref_ph(sq_x, sq_w, sq_bias),
        True,
        "v, W, c with W = [[1, 2], [-1, 0]], c = (0.5, -0.5)",
    )
    _check_conditional(
        p_v_given_h,
        "p_v_given_h",
        sq_x,
        sq_w,
        sq_bias,
        _ref_pv(sq_x, sq_w, sq_bias),
        False,
        "h, W, b with W = [[1, 2], [-1, 0]], b = (0.5, -0.5)",
    )
    _check_conditional(
        p_h_given_v,
        "p_h_given_v",
        HAND_V,
        HAND_W,
        HAND_C,
        HAND_PH,
        True,
        "v = [[1, 0, 1]], W = [[1, -1], [2, 0], [0, 1]], c = (0, -1)",
    )
    _check_conditional(
        p_v_given_h,
        "p_v_given_h",
        HAND_H,
        HAND_W,
        HAND_B,
        HAND_PV,
        False,
        "h = [[1, 0]], W = [[1, -1], [2, 0], [0, 1]], b = (0, 0, -2)",
    )
    rng = np.random.default_rng(7)
    for n, nv, nh in ((5, 6, 4), (3, 4, 7)):
        v = (rng.random((n, nv)) < 0.5).astype(float)
        h = (rng.random((n, nh)) < 0.5).astype(float)
        w = rng.normal(size=(nv, nh))
        b, c = rng.normal(size=nv), rng.normal(size=nh)
        _check_conditional(
            p_h_given_v, "p_h_given_v", v, w, c, _ref_ph(v, w, c), True, f"v {v.shape}, W {w.shape}, c"
        )
        _check_conditional(
            p_v_given_h, "p_v_given_h", h, w, b, _ref_pv(h, w, b), False, f"h {h.shape}, W {w.shape}, b"
        )
    # Large inputs: probabilities stay in [0, 1], never nan.
    big_w = np.array([[800.0, -800.0]])
    got = _call(p_h_given_v, "p_h_given_v with v W + c = (800, -800)", np.ones((1, 1)), big_w, np.zeros(2))
    if got.shape != (1, 2) or not np.all(np.isfinite(got)) or not np.allclose(got, [[1.0, 0.0]]):
        raise CheckFailed(
            f"p_h_given_v with v W + c = (800, -800) returned {got.tolist()}; expected [[1, 0]]"
        )
    return (
        "both conditionals match σ(v W + c) and σ(h Wᵀ + b): the hand-worked case "
        "(0.731, 0.269) and (0.731, 0.881, 0.119), random batches, and ±800"
    )


# Sampling -----------------------------------------------------------------------------------


@checker("step7.rbm_sample")
def check_rbm_sample(sample_bernoulli: Any) -> str:
    expect_callable(sample_bernoulli, "sample_bernoulli")
    p = np.array([[0.2, 0.5, 0.9, 0.0, 1.0, 0.3]])
    u = np.array([[0.1, 0.7, 0.95, 0.0, 0.999, 0.3]])
    want = np.array([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    what = "sample_bernoulli(p, u) with p = (0.2, 0.5, 0.9, 0, 1, 0.3), u = (0.1, 0.7, 0.95, 0, 0.999, 0.3)"
    got = _call(sample_bernoulli, what, p, u)
    if got.shape != want.shape:
        raise CheckFailed(f"{what} returned shape {got.shape}; expected {want.shape}, the shape of p")
    if not np.array_equal(got, want):
        if np.array_equal(got, 1.0 - want) or np.array_equal(got, (u > p).astype(float)):
            why = "every unit is the opposite: a unit is on when u < p (that happens with probability p)"
        elif np.array_equal(got, (u <= p).astype(float)):
            why = "with p = 0 and u = 0 your unit fired: use a strict u < p, so probability 0 never fires"
        elif np.array_equal(got, np.round(p)):
            why = "you rounded p instead of comparing it with the random numbers u"
        elif np.array_equal(got, p):
            why = "you returned the probabilities themselves; a sample is 0 or 1"
        else:
            why = "a unit is on (1.0) exactly when u < p"
        raise CheckFailed(f"{what} returned {got.ravel().tolist()}; expected {want.ravel().tolist()} — {why}")
    rng = np.random.default_rng(3)
    p = rng.random((400, 50))
    u = rng.random((400, 50))
    got = _call(sample_bernoulli, "sample_bernoulli(p, u) on a (400, 50) batch", p, u)
    if got.shape != p.shape or not np.array_equal(got, (u < p).astype(float)):
        raise CheckFailed(
            "on a random (400, 50) batch your samples differ from (u < p): draw no random numbers "
            "of your own, compare p with the u passed in"
        )
    return "units fire exactly when u < p (probability 0 never, probability 1 always)"


# CD-1 ---------------------------------------------------------------------------------------


def _cd1_reference(
    v0: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray, lr: float, u_h: np.ndarray, u_v: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(v0)
    ph0 = _ref_ph(v0, w, c)  # (N, n_h)
    h0 = (u_h < ph0).astype(float)
    pv1 = _ref_pv(h0, w, b)  # (N, n_v)
    v1 = (u_v < pv1).astype(float)
    ph1 = _ref_ph(v1, w, c)
    return {
        "dw": lr * (v0.T @ ph0 - v1.T @ ph1) / n,
        "db": lr * (v0 - v1).mean(axis=0),
        "dc": lr * (ph0 - ph1).mean(axis=0),
        # Wrong versions, to name the mistake.
        "dw_samples": lr * (v0.T @ h0 - v1.T @ (u_h < ph1).astype(float)) / n,
        "dw_pos_sample": lr * (v0.T @ h0 - v1.T @ ph1) / n,
        "dw_v1_prob": lr * (v0.T @ ph0 - pv1.T @ _ref_ph(pv1, w, c)) / n,
    }


# Worked by hand: W = 0 and zero biases make every probability 1/2, so the samples are
# fixed by u alone: h0 = [[1, 0], [0, 1]], v1 = [[1, 0, 1], [0, 1, 0]].
HAND_CD = {
    "v0": np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
    "u_h": np.array([[0.3, 0.7], [0.6, 0.2]]),
    "u_v": np.array([[0.1, 0.9, 0.4], [0.6, 0.2, 0.8]]),
}
# ΔW = (v0ᵀ·½ − v1ᵀ·½) / 2: column sums (2, 1, 0) − (1, 1, 1), times ½, over N = 2.
HAND_CD_W = np.array([[0.25, 0.25], [0.0, 0.0], [-0.25, -0.25]])
HAND_CD_B = np.array([0.5, 0.0, -0.5])  # mean of v0 − v1
HAND_CD_C = np.array([0.0, 0.0])  # p(h|v0) − p(h|v1) = ½ − ½


def _unpack_update(out: Any, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(out, tuple | list) or len(out) != 3:
        raise CheckFailed(
            f"{what} returned {type(out).__name__}; expected a tuple (W, b, c) of the new parameters"
        )
    return as_array(out[0], f"{what}[0]"), as_array(out[1], f"{what}[1]"), as_array(out[2], f"{what}[2]")


def _check_cd1_case(
    cd1_update: Any,
    v0: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    lr: float,
    u_h: np.ndarray,
    u_v: np.ndarray,
    desc: str,
) -> None:
    what = f"cd1_update({desc})"
    out = _call(cd1_update, what, v0, w, b, c, lr, u_h, u_v)
    w1, b1, c1 = _unpack_update(out, what)
    ref = _cd1_reference(v0, w, b, c, lr, u_h, u_v)
    if w1.shape != w.shape:
        if w1.shape == w.shape[::-1]:
            raise CheckFailed(
                f"{what}: the new W has shape {w1.shape}; expected {w.shape} — "
                "ΔW is v0ᵀ p(h|v0) − v1ᵀ p(h|v1), (n_visible, N) @ (N, n_hidden): the transpose goes on v"
            )
        raise CheckFailed(f"{what}: the new W has shape {w1.shape}; expected {w.shape}")
    dw, n = w1 - w, len(v0)
    if not np.allclose(dw, ref["dw"], atol=1e-8):
        if np.allclose(dw, -ref["dw"], atol=1e-8):
            why = "the update has the wrong sign: add lr·(data term − reconstruction term), v0 first"
        elif np.allclose(dw, n * ref["dw"], atol=1e-8):
            why = f"ΔW is {n} times too large: divide the sums over the batch by N = {n}"
        elif np.allclose(dw, ref["dw"] / lr, atol=1e-8):
            why = f"the learning rate lr = {lr} is missing from ΔW"
        elif np.allclose(dw, 0.0):
            why = "W did not change: return the updated W"
        elif dw.shape[0] == dw.shape[1] and np.allclose(dw, ref["dw"].T, atol=1e-8):
            why = (
                "ΔW is transposed: v0ᵀ p(h|v0) is (n_visible, N) @ (N, n_hidden), "
                "so the transpose goes on v, not on p"
            )
        elif np.allclose(dw, ref["dw_samples"], atol=1e-8) or np.allclose(
            dw, ref["dw_pos_sample"], atol=1e-8
        ):
            why = (
                "you used the binary samples h0 (or h1) in ΔW; the statistics use the probabilities "
                "p(h|v0) and p(h|v1) (the samples only drive the Gibbs step)"
            )
        elif np.allclose(dw, ref["dw_v1_prob"], atol=1e-8):
            why = "you used p(v|h0) as the reconstruction; sample v1 from it with u_v, as the text says"
        else:
            why = (
                "expected ΔW = lr·(v0ᵀ p(h|v0) − v1ᵀ p(h|v1)) / N, "
                "with h0 = (u_h < p(h|v0)) and v1 = (u_v < p(v|h0))"
            )
        i = np.unravel_index(int(np.argmax(np.abs(dw - ref["dw"]))), dw.shape)
        raise CheckFailed(f"{what}: ΔW[{i[0]}, {i[1]}] = {dw[i]:.4g}, expected {ref['dw'][i]:.4g} — {why}")
    for name, new, old, want, formula in (
        ("b", b1, b, ref["db"], "lr·mean(v0 − v1)"),
        ("c", c1, c, ref["dc"], "lr·mean(p(h|v0) − p(h|v1))"),
    ):
        if new.shape != old.shape:
            raise CheckFailed(f"{what}: the new {name} has shape {new.shape}; expected {old.shape}")
        delta = new - old
        if np.allclose(delta, want, atol=1e-8):
            continue
        if np.allclose(delta, 0.0) and not np.allclose(want, 0.0):
            why = f"the bias {name} is never updated: Δ{name} = {formula}"
        elif np.allclose(delta, -want, atol=1e-8):
            why = f"Δ{name} has the wrong sign: Δ{name} = {formula}"
        elif np.allclose(delta, n * want, atol=1e-8):
            why = f"Δ{name} is {n} times too large: take the mean over the batch, not the sum"
        elif np.allclose(delta, want / lr, atol=1e-8):
            why = f"the learning rate lr = {lr} is missing from Δ{name}: Δ{name} = {formula}"
        else:
            why = f"expected Δ{name} = {formula}"
        raise CheckFailed(
            f"{what}: Δ{name} = {np.round(delta, 4).tolist()}, expected {np.round(want, 4).tolist()} — {why}"
        )


@checker("step7.cd1_update")
def check_cd1_update(cd1_update: Any) -> str:
    expect_callable(cd1_update, "cd1_update")
    rng = np.random.default_rng(11)
    cases = [(7, 6, 6, 0.05), (4, 5, 3, 0.1), (10, 8, 5, 0.5)]  # a square W first: a transposed ΔW still adds
    batches = []
    for n, nv, nh, lr in cases:
        v0 = (rng.random((n, nv)) < 0.5).astype(float)
        w = rng.normal(scale=0.5, size=(nv, nh))
        batches.append(
            (v0, w, rng.normal(size=nv), rng.normal(size=nh), lr, rng.random((n, nh)), rng.random((n, nv)))
        )
    v0, w, b, c, lr, u_h, u_v = batches[0]
    _check_cd1_case(
        cd1_update, v0, w, b, c, lr, u_h, u_v, f"a random batch: v0 {v0.shape}, W {w.shape}, lr = {lr}"
    )
    _check_cd1_case(
        cd1_update,
        HAND_CD["v0"],
        np.zeros((3, 2)),
        np.zeros(3),
        np.zeros(2),
        1.0,
        HAND_CD["u_h"],
        HAND_CD["u_v"],
        "v0 = [[1, 1, 0], [1, 0, 0]], W = 0, b = 0, c = 0, lr = 1, u_h, u_v",
    )
    for v0, w, b, c, lr, u_h, u_v in batches[1:]:
        _check_cd1_case(
            cd1_update, v0, w, b, c, lr, u_h, u_v, f"a random batch: v0 {v0.shape}, W {w.shape}, lr = {lr}"
        )
    return (
        "ΔW = lr·(v0ᵀ p(h|v0) − v1ᵀ p(h|v1)) / N and both bias updates match, on the hand-worked case "
        "(ΔW rows 0.25, 0, −0.25) and on random batches"
    )


# Training on binarised digits ---------------------------------------------------------------


def binarised_digits() -> tuple[np.ndarray, np.ndarray]:
    """The fixed split of the digits as binary vectors: pixels above one half are on."""
    from dl7 import datasets

    split = datasets.load("digits").split()
    v_train = (split.x_train.reshape(len(split.x_train), -1) > 0.5).astype(float)  # (1438, 64)
    v_test = (split.x_test.reshape(len(split.x_test), -1) > 0.5).astype(float)  # (359, 64)
    return v_train, v_test


def reconstruction_error(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Mean squared difference between v and its mean-field reconstruction σ(σ(vW + c) Wᵀ + b)."""
    return float(np.mean((v - _ref_pv(_ref_ph(v, w, c), w, b)) ** 2))


@checker("step7.rbm_train")
def check_rbm_train(w: Any, b: Any, c: Any) -> str:
    if w is None:  # the training cell could not run: the exercises above are not done yet
        raise NotImplementedError
    w, b, c = as_array(w, "W"), as_array(b, "b"), as_array(c, "c")
    v_train, v_test = binarised_digits()
    nv = v_test.shape[1]
    if w.ndim != 2 or w.shape[0] != nv:
        raise CheckFailed(f"W has shape {w.shape}; expected ({nv}, n_hidden), one row per pixel")
    nh = w.shape[1]
    if nh < RBM_MIN_HIDDEN:
        raise CheckFailed(f"W has {nh} hidden units; use at least {RBM_MIN_HIDDEN}")
    if b.shape != (nv,) or c.shape != (nh,):
        raise CheckFailed(f"b has shape {b.shape} and c {c.shape}; expected ({nv},) and ({nh},)")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b)) and np.all(np.isfinite(c))):
        raise CheckFailed("the parameters contain nan or inf: is the learning rate too large?")
    before = reconstruction_error(v_test, np.zeros_like(w), np.zeros(nv), np.zeros(nh))  # 0.25
    p = v_train.mean(axis=0)
    marginal = float(np.mean((v_test - p) ** 2))  # each pixel guessed from its training frequency
    after = reconstruction_error(v_test, w, b, c)
    where = f"on the {len(v_test)} held-out binarised digits"
    if after >= before:
        raise CheckFailed(
            f"reconstruction error {after:.4f} {where}, no better than {before:.2f} for an untrained RBM: "
            "check the sign of the CD-1 update and that the training loop uses the updated parameters"
        )
    if after > RBM_MAX_ERROR:
        raise CheckFailed(
            f"reconstruction error {after:.4f} {where}; needs at most {RBM_MAX_ERROR} "
            f"(an untrained RBM: {before:.2f}; each pixel's training frequency alone: {marginal:.3f}) — "
            "train longer, or check the bias updates"
        )
    return (
        f"reconstruction error {after:.4f} {where} (measured by the checker), "
        f"down from {before:.2f} untrained; "
        f"pixel frequencies alone give {marginal:.3f}"
    )
