"""Step 7, notebook 1 checkers: LSTM and GRU forward passes against Keras, parameter counts.

Each passes a right answer and a right answer written differently, and fails the slips beginners
make with a message that names them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

cells = course("step7").cells

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# LSTM ----------------------------------------------------------------------------------------


def lstm_fused(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    *,
    order: str = "ifco",
    output_act: Any = sigmoid,
    carry: bool = True,
    last_only: bool = False,
) -> np.ndarray:
    """One matmul for all four gates; the keyword arguments put in the beginner's slips."""
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    hs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        g = {name: z[:, k * units : (k + 1) * units] for k, name in enumerate(order)}
        new = sigmoid(g["i"]) * np.tanh(g["c"])
        c = sigmoid(g["f"]) * c + new if carry else new
        h = output_act(g["o"]) * np.tanh(c)
        hs.append(h)
    return hs[-1] if last_only else np.stack(hs, axis=1)


def lstm_olah(
    x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """Written differently: Olah's W · [h, x] per gate, one sequence at a time, preallocated output."""
    n, t_len, _ = x.shape
    units = recurrent_kernel.shape[0]
    out = np.empty((n, t_len, units))
    for seq in range(n):
        h, c = np.zeros(units), np.zeros(units)
        for t in range(t_len):
            hx = np.concatenate([h, x[seq, t]])
            w = {
                name: np.vstack(
                    [recurrent_kernel[:, k * units : (k + 1) * units], kernel[:, k * units : (k + 1) * units]]
                )
                for k, name in enumerate("ifco")
            }
            b = {name: bias[k * units : (k + 1) * units] for k, name in enumerate("ifco")}
            f = sigmoid(hx @ w["f"] + b["f"])
            i = sigmoid(hx @ w["i"] + b["i"])
            c_tilde = np.tanh(hx @ w["c"] + b["c"])
            c = f * c + i * c_tilde
            o = sigmoid(hx @ w["o"] + b["o"])
            h = o * np.tanh(c)
            out[seq, t] = h
    return out


def test_lstm_right() -> None:
    r = evaluate("step7.lstm_forward", lstm_fused)
    assert r.status == "passed", r.message
    assert "max abs difference" in r.message


def test_lstm_written_differently() -> None:
    r = evaluate("step7.lstm_forward", lstm_olah)
    assert r.status == "passed", r.message


def test_lstm_float32_is_close_enough() -> None:
    def in_float32(x: np.ndarray, k: np.ndarray, u: np.ndarray, b: np.ndarray) -> np.ndarray:
        return lstm_fused(*(a.astype(np.float32) for a in (x, k, u, b)))

    assert evaluate("step7.lstm_forward", in_float32).status == "passed"


def test_lstm_input_and_forget_swapped() -> None:
    r = evaluate("step7.lstm_forward", lambda *a: lstm_fused(*a, order="fico"))
    expect_failed(r, "differ from Keras's LSTM", "f, i, c, o", "i, f, c, o")


def test_lstm_output_gate_tanh() -> None:
    r = evaluate("step7.lstm_forward", lambda *a: lstm_fused(*a, output_act=np.tanh))
    expect_failed(r, "output gate went through tanh", "sigmoid(o)")


def test_lstm_cell_state_not_carried() -> None:
    r = evaluate("step7.lstm_forward", lambda *a: lstm_fused(*a, carry=False))
    expect_failed(r, "cell state is not carried", "first step that differs is t = 1")


def test_lstm_last_state_only() -> None:
    r = evaluate("step7.lstm_forward", lambda *a: lstm_fused(*a, last_only=True))
    expect_failed(r, "returned shape (3, 4), the last hidden state only", "(3, 9, 4)")


def test_lstm_time_major() -> None:
    r = evaluate("step7.lstm_forward", lambda *a: np.swapaxes(lstm_fused(*a), 0, 1))
    expect_failed(r, "time first", "axis 1")


def test_lstm_updates_inputs_in_place() -> None:
    def in_place(x: np.ndarray, k: np.ndarray, u: np.ndarray, b: np.ndarray) -> np.ndarray:
        b += 0.0
        x *= 1.0
        x[0, 0, 0] = 0.0
        return lstm_fused(x, k, u, b)

    expect_failed(evaluate("step7.lstm_forward", in_place), "changed its input arrays")


def test_lstm_unknown_error_names_the_first_step() -> None:
    r = evaluate("step7.lstm_forward", lambda *a: lstm_fused(*a) * 1.01)
    expect_failed(r, "differ from Keras's LSTM", "the first step that differs is t = 0")


def test_lstm_stub_and_none() -> None:
    assert evaluate("step7.lstm_forward", stub).status == "not_attempted"
    expect_failed(evaluate("step7.lstm_forward", lambda *a: None), "returned None")


# GRU -----------------------------------------------------------------------------------------


def gru_fused(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    *,
    swap_z: bool = False,
    reset_before: bool = False,
    last_only: bool = False,
    order: str = "zrh",
) -> np.ndarray:
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    hs = []

    def blk(m: np.ndarray, name: str) -> np.ndarray:
        k = order.index(name)
        return m[..., k * units : (k + 1) * units]

    for t in range(x.shape[1]):
        xw = x[:, t] @ kernel + bias[0]
        hu = h @ recurrent_kernel + bias[1]
        z = sigmoid(blk(xw, "z") + blk(hu, "z"))
        r = sigmoid(blk(xw, "r") + blk(hu, "r"))
        if reset_before:
            cand = np.tanh(blk(xw, "h") + (r * h) @ blk(recurrent_kernel, "h") + blk(bias[1], "h"))
        else:
            cand = np.tanh(blk(xw, "h") + r * blk(hu, "h"))
        h = (1 - z) * h + z * cand if swap_z else z * h + (1 - z) * cand
        hs.append(h)
    return hs[-1] if last_only else np.stack(hs, axis=1)


def gru_per_gate(
    x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """Written differently: named weight slices, a list of states, and an interpolation form."""
    units = recurrent_kernel.shape[0]
    w_z, w_r, w_h = np.split(kernel, 3, axis=1)
    u_z, u_r, u_h = np.split(recurrent_kernel, 3, axis=1)
    (bx_z, bx_r, bx_h), (bh_z, bh_r, bh_h) = np.split(bias[0], 3), np.split(bias[1], 3)
    h = np.zeros((x.shape[0], units))
    states = []
    for x_t in np.moveaxis(x, 1, 0):
        z = sigmoid(x_t @ w_z + bx_z + h @ u_z + bh_z)
        r = sigmoid(x_t @ w_r + bx_r + h @ u_r + bh_r)
        h_tilde = np.tanh(x_t @ w_h + bx_h + r * (h @ u_h + bh_h))
        h = h_tilde + z * (h - h_tilde)  # = z * h + (1 - z) * h_tilde
        states.append(h)
    return np.array(states).transpose(1, 0, 2)


def test_gru_right() -> None:
    r = evaluate("step7.gru_forward", gru_fused)
    assert r.status == "passed", r.message
    assert "GRU" in r.message


def test_gru_written_differently() -> None:
    r = evaluate("step7.gru_forward", gru_per_gate)
    assert r.status == "passed", r.message


def test_gru_update_gate_on_the_wrong_term() -> None:
    r = evaluate("step7.gru_forward", lambda *a: gru_fused(*a, swap_z=True))
    expect_failed(r, "update gate is on the wrong term", "z * h_(t-1) + (1 - z) * h̃")


def test_gru_reset_before_the_matmul() -> None:
    r = evaluate("step7.gru_forward", lambda *a: gru_fused(*a, reset_before=True))
    expect_failed(r, "before the recurrent matmul", "reset_after=True")


def test_gru_gate_order() -> None:
    r = evaluate("step7.gru_forward", lambda *a: gru_fused(*a, order="rzh"))
    expect_failed(r, "r, z, h", "z, r, h")


def test_gru_one_bias_row() -> None:
    def one_bias(x: np.ndarray, k: np.ndarray, u: np.ndarray, b: np.ndarray) -> np.ndarray:
        return gru_fused(x, k, u, np.stack([b[0], np.zeros_like(b[1])]))

    expect_failed(evaluate("step7.gru_forward", one_bias), "second bias row is missing")


def test_gru_last_state_only() -> None:
    r = evaluate("step7.gru_forward", lambda *a: gru_fused(*a, last_only=True))
    expect_failed(r, "the last hidden state only", "return_sequences=True")


def test_gru_stub() -> None:
    assert evaluate("step7.gru_forward", stub).status == "not_attempted"


def test_keras_cases_repeat() -> None:
    a = cells.keras_case("gru", (2, 3, 4, 5), seed=1)
    b = cells.keras_case("gru", (2, 3, 4, 5), seed=1)
    for u, v in zip(a[1], b[1], strict=True):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a[2], b[2])
    assert a[1][2].shape == (2, 15)  # reset_after=True: an input and a recurrent bias row


# Parameter counts ----------------------------------------------------------------------------


def lstm_params(n_in: int, units: int) -> int:
    return 4 * (n_in * units + units * units + units)


def gru_params(n_in: int, units: int) -> int:
    return 3 * (n_in * units + units * units + 2 * units)


def test_param_counts_right() -> None:
    r = evaluate("step7.param_counts", lstm_params, gru_params)
    assert r.status == "passed", r.message


def test_param_counts_written_differently() -> None:
    def lstm_alt(n_in: int, units: int) -> int:
        return int(np.prod([4, units, n_in + units + 1]))

    def gru_alt(n_in: int, units: int) -> int:
        return sum(
            k.size
            for k in (np.empty((n_in, 3 * units)), np.empty((units, 3 * units)), np.empty((2, 3 * units)))
        )

    assert evaluate("step7.param_counts", lstm_alt, gru_alt).status == "passed"


@pytest.mark.parametrize(
    ("lstm", "gru", "fragments"),
    [
        (
            lambda n, h: 4 * (n * h + h * h),
            gru_params,
            ("lstm_params(n_in=3, units=4) returned 112", "biases are missing"),
        ),
        (
            lstm_params,
            lambda n, h: 3 * (n * h + h * h + h),
            ("gru_params(n_in=3, units=4) returned 96", "one bias vector"),
        ),
        (lstm_params, lstm_params, ("returned 128", "an LSTM's count")),
        (lambda n, h: 4 * (n * h + h), gru_params, ("returned 64", "recurrent kernel")),
        (lambda n, h: n * h + h * h + h, gru_params, ("returned 32", "one block's worth")),
        (lambda n, h: float(lstm_params(n, h)), gru_params, ("a float",)),
    ],
)
def test_param_counts_mistakes(lstm: Any, gru: Any, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step7.param_counts", lstm, gru), *fragments)


# forget_bias ---------------------------------------------------------------------------------


def test_forget_bias_right() -> None:
    r = evaluate("step7.forget_bias", lambda: 4.05)
    assert r.status == "passed", r.message
    assert "0.50" in r.message


def test_forget_bias_written_differently() -> None:
    q = np.float32(0.5 ** (1 / 40))
    assert evaluate("step7.forget_bias", lambda: np.log(q / (1 - q))).status == "passed"


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (0.983, "the value the gate σ(b_f) must take"),
        (4.37, "multiplied by σ(b_f) at every step"),
        (0, "halves the cell at every step"),
        (1.0, "solve σ(b_f)^40 = 1/2"),
    ],
)
def test_forget_bias_mistakes(answer: float, fragment: str) -> None:
    expect_failed(evaluate("step7.forget_bias", lambda: answer), fragment, "not 0.5")


def test_forget_bias_stub_and_type() -> None:
    assert evaluate("step7.forget_bias", stub).status == "not_attempted"
    expect_failed(evaluate("step7.forget_bias", lambda: "4"), "expected one number")


def test_gru_float32_is_close_enough() -> None:
    def gru32(
        x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray
    ) -> np.ndarray:
        x, kernel, recurrent_kernel, bias = (
            a.astype(np.float32) for a in (x, kernel, recurrent_kernel, bias)
        )
        return gru_fused(x, kernel, recurrent_kernel, bias)

    r = evaluate("step7.gru_forward", gru32)
    assert r.status == "passed", r.message
