"""Checkers for step 7's fifth notebook (05_rbm): ``step7.rbm_conditionals``,
``step7.free_energy``, ``step7.rbm_exact_gradient``, ``step7.cd1_update`` and ``step7.cd1_vs_exact``.

A binary restricted Boltzmann machine with ``W`` of shape (n_visible, n_hidden), visible biases
``b`` and hidden biases ``c``. The facts: tiny cases worked by hand; the free energy compared with
its definition, a log-sum over every hidden vector; the exact log-likelihood gradient compared
with central differences of the log-likelihood, its log Z summed over every visible vector; CD-1
by the formulas of Hinton's "A Practical Guide to Training RBMs" (the learner's sampling is made
checkable by passing the uniform random numbers in); and a prediction about CD-1 at W = 0 against
what enumeration shows. Numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable


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


# Free energy --------------------------------------------------------------------------------


def softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + e^a) without overflow."""
    return np.asarray(np.logaddexp(0.0, np.asarray(a, dtype=float)))


def ref_free_energy(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """F(v) = −b·v − Σ_j softplus(c_j + (vW)_j), one value per row of v."""
    return np.asarray(-(v @ b) - softplus(v @ w + c).sum(axis=1))  # (N,)


def all_states(n: int) -> np.ndarray:
    """Every binary vector of length n, one per row: (2**n, n)."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)[::-1]) & 1).astype(float)


def brute_free_energy(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """−log Σ_h e^{−E(v, h)}, summing over all 2^n_hidden hidden vectors: the definition itself."""
    h = all_states(w.shape[1])  # (2^nh, nh)
    minus_e = (v @ w) @ h.T + (v @ b)[:, None] + (h @ c)[None, :]  # (N, 2^nh): −E(v, h)
    return np.asarray(-np.logaddexp.reduce(minus_e, axis=1))  # (N,)


def _diagnose_free_energy(got: np.ndarray, v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> str:
    a = v @ w + c  # (N, nh)
    right = ref_free_energy(v, w, b, c)
    if np.allclose(got, -right):
        return "the sign is reversed: p(v) ∝ e^{−F(v)}, so F(v) = −log Σ_h e^{−E(v, h)}"
    if np.allclose(got, -softplus(a).sum(axis=1)) and np.any(v @ b != 0):
        return "the visible bias term −b·v is missing: it does not depend on h, so it comes out of the sum"
    if np.allclose(got, -(v @ b) - a.sum(axis=1)):
        return (
            "you replaced log(1 + e^a) by a: that keeps only h_j = 1; summing h_j over {0, 1} "
            "gives e^0 + e^a = 1 + e^a for each hidden unit"
        )
    if np.allclose(got, -(v @ b) - np.log(np.exp(np.clip(a, -50, 50)).sum(axis=1))):
        return "you took the log of a sum over the hidden units; the sum over h factorises into a product"
    if np.allclose(got, -(v @ b) - softplus(v @ w).sum(axis=1)) and np.any(c != 0):
        return "the hidden bias c is missing inside the softplus: each hidden unit's input is c_j + (vW)_j"
    if np.allclose(got, -(v @ b) + softplus(a).sum(axis=1)):
        return "the softplus term has the wrong sign: both terms of F(v) are negative"
    return "expected F(v) = −log Σ_h e^{−E(v, h)}, one number per row of v"


@checker("step7.free_energy")
def check_free_energy(free_energy: Any) -> str:
    expect_callable(free_energy, "free_energy")
    rng = np.random.default_rng(5)
    cases = [
        (
            HAND_V,
            HAND_W,
            HAND_B,
            HAND_C,
            "v = [[1, 0, 1]], W = [[1, -1], [2, 0], [0, 1]], b = (0, 0, -2), c = (0, -1)",
        )
    ]
    for n, nv, nh in ((5, 6, 4), (3, 4, 7)):
        v = (rng.random((n, nv)) < 0.5).astype(float)
        w, b, c = rng.normal(size=(nv, nh)), rng.normal(size=nv), rng.normal(size=nh)
        cases.append((v, w, b, c, f"v {v.shape}, W {w.shape}, b, c"))
    for v, w, b, c, desc in cases:
        what = f"free_energy({desc})"
        got = _call(free_energy, what, v, w, b, c)
        want = brute_free_energy(v, w, b, c)
        if got.shape != want.shape:
            if got.size == 1:
                why = "a single number: sum over the hidden units only (axis=1), keeping one value per row"
            elif got.shape == (len(v), 1):
                why = "a column; return a flat array of shape (N,)"
            elif got.shape == (w.shape[1],) or got.shape == (v.shape[1],):
                why = "the sum ran over the examples (axis 0); sum over the hidden units (axis=1)"
            else:
                why = "one free energy per row of v"
            raise CheckFailed(f"{what} returned shape {got.shape}; expected {want.shape} — {why}")
        if not np.allclose(got, want, atol=1e-6):
            i = int(np.argmax(np.abs(got - want)))
            why = _diagnose_free_energy(got, v, w, b, c)
            raise CheckFailed(
                f"{what}: row {i} is {got[i]:.4f}, but −log Σ_h e^(−E(v, h)) over all "
                f"{2 ** w.shape[1]} hidden vectors is {want[i]:.4f} — {why}"
            )
    big_w = np.array([[800.0, -800.0]])
    what = "free_energy(v = [[1]], W = [[800, -800]], b = 0, c = 0)"
    with np.errstate(all="ignore"):
        got = _call(free_energy, what, np.ones((1, 1)), big_w, np.zeros(1), np.zeros(2))
    if got.size != 1 or not np.all(np.isfinite(got)) or not np.isclose(float(got.ravel()[0]), -800.0):
        raise CheckFailed(
            f"{what} returned {np.ravel(got).tolist()}; expected [-800.0] — e^800 overflows to inf: "
            "compute log(1 + e^a) as np.logaddexp(0, a)"
        )
    return (
        "F(v) = −log Σ_h e^(−E(v, h)) on every row: equal to the sum over all hidden vectors, "
        "and finite at inputs of ±800"
    )


# The exact gradient of a tiny RBM -----------------------------------------------------------


def mean_log_likelihood(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """mean_n log p(v_n), with log Z summed over all 2^n_visible visible vectors."""
    f_all = ref_free_energy(all_states(w.shape[0]), w, b, c)  # (2^nv,)
    log_z = float(np.logaddexp.reduce(-f_all))
    return float(np.mean(-ref_free_energy(v, w, b, c)) - log_z)


def numerical_gradient_ll(
    v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences of the mean log-likelihood: the fact the learner's gradient meets."""
    params = [w.copy(), b.copy(), c.copy()]
    grads = []
    for k, p in enumerate(params):
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            up = mean_log_likelihood(v, *params)
            p[idx] = old - eps
            down = mean_log_likelihood(v, *params)
            p[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
        params[k] = p
    return grads[0], grads[1], grads[2]


def _gradient_parts(
    v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The data and model terms, and their slips, to name a wrong answer (never the reference)."""
    s = all_states(w.shape[0])
    f = ref_free_energy(s, w, b, c)
    p = np.exp(-f - np.logaddexp.reduce(-f))  # (2^nv,) p(v) of every state
    q = np.exp(f - np.logaddexp.reduce(f))  # the same with e^{+F}
    u = np.full(len(s), 1.0 / len(s))  # every state weighted alike
    ph, ps = sigmoid(v @ w + c), sigmoid(s @ w + c)
    data = (v.T @ ph / len(v), v.mean(axis=0), ph.mean(axis=0))

    def model(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return s.T @ (weights[:, None] * ps), weights @ s, weights @ ps

    out = {"data": data}
    for name, weights in (("model", p), ("model_plus_f", q), ("model_uniform", u)):
        m = model(weights)
        out[name] = m
        out[name + "_minus"] = (data[0] - m[0], data[1] - m[1], data[2] - m[2])
    out["sum"] = (
        v.T @ ph - len(v) * out["model"][0],
        v.sum(0) - len(v) * out["model"][1],
        ph.sum(0) - len(v) * out["model"][2],
    )
    return out


def _same3(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...], tol: float = 1e-6) -> bool:
    return all(x.shape == y.shape and np.allclose(x, y, atol=tol) for x, y in zip(a, b, strict=True))


# The tiny RBM of the notebook: 6 visible and 4 hidden units, 2^10 joint states.
TINY_VISIBLE, TINY_HIDDEN = 6, 4


@checker("step7.rbm_exact_gradient")
def check_rbm_exact_gradient(exact_gradient: Any) -> str:
    expect_callable(exact_gradient, "exact_gradient")
    rng = np.random.default_rng(17)
    for n, nv, nh in ((9, TINY_VISIBLE, TINY_HIDDEN), (5, 3, 5), (7, 4, 4)):
        v = (rng.random((n, nv)) < 0.5).astype(float)
        w = rng.normal(scale=0.8, size=(nv, nh))
        b, c = rng.normal(scale=0.5, size=nv), rng.normal(scale=0.5, size=nh)
        what = f"exact_gradient(V {v.shape}, W {w.shape}, b, c)"
        out = _call(exact_gradient, what, v, w, b, c)
        got = _unpack_update(out, what)
        want = numerical_gradient_ll(v, w, b, c)
        for name, g, ref in zip(("dW", "db", "dc"), got, want, strict=True):
            if g.shape != ref.shape:
                extra = " (transposed?)" if g.shape == ref.shape[::-1] else ""
                raise CheckFailed(f"{what}: {name} has shape {g.shape}; expected {ref.shape}{extra}")
        if _same3(got, want, 1e-5):
            continue
        parts = _gradient_parts(v, w, b, c)
        if _same3(got, parts["data"]):
            why = (
                "that is the data term alone: log p(v) = −F(v) − log Z, and log Z depends on the "
                "parameters too — subtract the same statistics averaged over the model's p(v)"
            )
        elif _same3(got, tuple(-x for x in want)):
            why = "the sign is reversed: this is the gradient of −log p(v); data term minus model term"
        elif _same3(got, parts["model_uniform_minus"]):
            why = (
                "the model term averages every visible state alike; weight each state by "
                "p(v) = e^(−F(v)) / Z, with Z the sum of e^(−F) over all states"
            )
        elif _same3(got, parts["model_plus_f_minus"]):
            why = "the model term weights the states by e^(+F(v)); p(v) is proportional to e^(−F(v))"
        elif _same3(got, parts["sum"]):
            why = f"the gradient is {n} times too large: average the data term over the N = {n} rows"
        else:
            errs = [float(np.max(np.abs(g - r))) for g, r in zip(got, want, strict=True)]
            worst = ("dW", "db", "dc")[int(np.argmax(errs))]
            why = (
                f"{worst} is off by up to {max(errs):.3g}: the gradient of −F(v) with respect to it, "
                "averaged over the data, minus the same averaged over p(v)"
            )
        raise CheckFailed(
            f"{what} differs from central differences of the mean log-likelihood "
            f"(log Z summed over all {2**nv} visible vectors) — {why}"
        )
    return (
        "dW, db and dc equal central differences of the exact mean log-likelihood, "
        "log Z summed over every visible vector"
    )


# A prediction: CD-1 at W = 0 ----------------------------------------------------------------


@checker("step7.cd1_vs_exact")
def check_cd1_vs_exact(cd1_cosine_at_zero: Any) -> str:
    if callable(cd1_cosine_at_zero):  # the notebook passes the prediction as a function: a stub is not done
        cd1_cosine_at_zero = cd1_cosine_at_zero()
    if isinstance(cd1_cosine_at_zero, bool) or not isinstance(
        cd1_cosine_at_zero, int | float | np.floating | np.integer
    ):
        raise CheckFailed(f"cd1_cosine_at_zero() returned {cd1_cosine_at_zero!r}; expected one number")
    value = float(cd1_cosine_at_zero)
    if np.isclose(value, 1.0, atol=1e-3):
        return (
            "1: with W = 0 one Gibbs step already draws from the model, so CD-1's expected update "
            "is the exact gradient; the bias appears only as the weights grow"
        )
    if not -1.0 <= value <= 1.0:
        why = f"a cosine similarity lies in [−1, 1], and {value:g} does not"
    elif abs(value) < 0.05:
        why = "CD-1's update is not unrelated to the gradient: its data term is the exact one"
    elif 0.4 <= value <= 0.7:
        why = (
            "that is about what one sampled batch of 20 gives (the sampling noise); the question is "
            "about the expected update, averaged over every random draw"
        )
    else:
        why = "work out the reconstruction's distribution when W = 0: does it depend on v0?"
    raise CheckFailed(
        f"cd1_cosine_at_zero() is {value:g}; the cell above measured the cosine between CD-1's expected "
        f"update and the exact gradient at W = 0 — {why}"
    )
