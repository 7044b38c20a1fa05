"""Checkers for step 7's first notebook (01_lstm_gru_by_hand): ``step7.lstm_forward``,
``step7.gru_forward``, ``step7.forget_bias`` (a prediction) and ``step7.param_counts``.

The facts are Keras 3's own ``layers.LSTM`` and ``layers.GRU`` (``reset_after=True``, the
default): the checker builds each layer with random weights, biases included, copies the weights
into the learner's numpy function and requires the same hidden states within 1e-5 on random
sequences. Keras is imported inside the checkers, never at import time.

When an answer is off, the checker re-runs the forward pass with the slips beginners make (gate
blocks read in another order, tanh on the output gate, a cell state that is not carried, GRU's
``1 - z`` on the wrong term, the reset gate applied before the recurrent matmul) and names the one
that reproduces the learner's numbers. Those variants only word the message; the verdict always
comes from Keras.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

TOLERANCE = 1e-5  # max abs difference from Keras's hidden states
LSTM_GATES = "ifco"  # Keras's column blocks: input, forget, cell candidate, output
GRU_GATES = "zrh"  # Keras's column blocks: update, reset, candidate

# (N, T, n_in, H): batch, time steps, input size, units. The first case is the one diagnosed.
SIZES: list[tuple[int, int, int, int]] = [
    (3, 9, 5, 4),
    (1, 1, 1, 1),
    (2, 14, 3, 7),
    (4, 6, 10, 3),
    (2, 25, 2, 16),
]


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    return keras


def keras_case(
    kind: str, size: tuple[int, int, int, int], seed: int
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """A random sequence, a Keras ``LSTM``/``GRU`` layer's random weights and its output.

    Every weight, the biases included, is drawn from N(0, 0.5²) so that every gate matters
    (Keras's own initialisation sets most biases to zero, which would hide a swapped gate).
    Returns ``(x, weights, hidden states)``: x is (N, T, n_in), the states (N, T, H).
    """
    keras = _keras()
    n, t_len, n_in, units = size
    rng = np.random.default_rng(seed)
    layer_class = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    layer = layer_class(units, return_sequences=True, dtype="float64")  # float64: exact reference
    layer.build((None, t_len, n_in))
    layer.set_weights([rng.normal(0.0, 0.5, w.shape) for w in layer.get_weights()])
    x = rng.normal(0.0, 1.0, (n, t_len, n_in))  # (N, T, n_in)
    return x, [np.asarray(w) for w in layer.get_weights()], np.asarray(layer(x))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _lstm_variant(
    x: np.ndarray,
    weights: list[np.ndarray],
    order: str = LSTM_GATES,
    output_act: Callable[[np.ndarray], np.ndarray] = _sigmoid,
    carry_cell: bool = True,
    squash_cell: bool = True,
) -> np.ndarray:
    """An LSTM forward pass that reads the gate blocks in ``order``, for naming slips."""
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias  # (N, 4H)
        gate = {name: z[:, k * units : (k + 1) * units] for k, name in enumerate(order)}
        c_new = _sigmoid(gate["i"]) * np.tanh(gate["c"])
        c = _sigmoid(gate["f"]) * c + c_new if carry_cell else c_new
        h = output_act(gate["o"]) * (np.tanh(c) if squash_cell else c)
        out.append(h)
    return np.stack(out, axis=1)


def _gru_variant(
    x: np.ndarray,
    weights: list[np.ndarray],
    order: str = GRU_GATES,
    reset_after: bool = True,
    keep_is_z: bool = True,
    recurrent_bias: bool = True,
) -> np.ndarray:
    """A GRU forward pass with Keras's weights, read with one convention changed."""
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]
    b_in, b_rec = bias if recurrent_bias else (bias[0], np.zeros_like(bias[1]))
    h = np.zeros((x.shape[0], units))
    out = []

    def block(m: np.ndarray, name: str) -> np.ndarray:
        k = order.index(name)
        return m[..., k * units : (k + 1) * units]

    for t in range(x.shape[1]):
        xw = x[:, t] @ kernel + b_in  # (N, 3H)
        hu = h @ recurrent + b_rec  # (N, 3H)
        z = _sigmoid(block(xw, "z") + block(hu, "z"))
        r = _sigmoid(block(xw, "r") + block(hu, "r"))
        if reset_after:
            cand = np.tanh(block(xw, "h") + r * block(hu, "h"))
        else:  # the original GRU: reset the state, then multiply
            cand = np.tanh(block(xw, "h") + (r * h) @ block(recurrent, "h") + block(b_rec, "h"))
        h = z * h + (1 - z) * cand if keep_is_z else (1 - z) * h + z * cand
        out.append(h)
    return np.stack(out, axis=1)


def _lstm_slips(x: np.ndarray, weights: list[np.ndarray]) -> list[tuple[str, np.ndarray]]:
    slips = [
        (
            "the output gate went through tanh; it is a gate, so it needs the sigmoid: "
            "h_t = sigmoid(o) * tanh(c_t)",
            _lstm_variant(x, weights, output_act=np.tanh),
        ),
        (
            "the cell state is not carried from one step to the next: c_t = f * c_(t-1) + i * c̃ "
            "needs the previous step's c, starting from zeros",
            _lstm_variant(x, weights, carry_cell=False),
        ),
        (
            "h_t = o * c_t misses the tanh: Keras (and Olah) squash the cell state first, "
            "h_t = o * tanh(c_t)",
            _lstm_variant(x, weights, squash_cell=False),
        ),
    ]
    for order in itertools.permutations(LSTM_GATES):
        name = "".join(order)
        if name != LSTM_GATES:
            slips.append(
                (
                    f"you read the kernel's four column blocks as {', '.join(name)}; Keras stores them "
                    f"in the order {', '.join(LSTM_GATES)} (input, forget, cell candidate, output)",
                    _lstm_variant(x, weights, order=name),
                )
            )
    return slips


def _gru_slips(x: np.ndarray, weights: list[np.ndarray]) -> list[tuple[str, np.ndarray]]:
    slips = [
        (
            "the update gate is on the wrong term: Keras keeps the old state with z, "
            "h_t = z * h_(t-1) + (1 - z) * h̃ (Olah's figure writes the mirror image, "
            "(1 - z) * h_(t-1) + z * h̃)",
            _gru_variant(x, weights, keep_is_z=False),
        ),
        (
            "the reset gate was applied to h_(t-1) before the recurrent matmul (the reset_after=False "
            "GRU); with reset_after=True it multiplies the result: r * (h_(t-1) @ U_h + b_rec_h)",
            _gru_variant(x, weights, reset_after=False),
        ),
        (
            "the second bias row is missing: bias has shape (2, 3H), bias[0] adds to x @ kernel "
            "and bias[1] to h @ recurrent_kernel (inside the reset gate's product for the candidate)",
            _gru_variant(x, weights, recurrent_bias=False),
        ),
    ]
    for order in itertools.permutations(GRU_GATES):
        name = "".join(order)
        if name != GRU_GATES:
            slips.append(
                (
                    f"you read the kernel's three column blocks as {', '.join(name)}; Keras stores them "
                    f"in the order {', '.join(GRU_GATES)} (update, reset, candidate)",
                    _gru_variant(x, weights, order=name),
                )
            )
    return slips


def _compare(
    fn: Any,
    name: str,
    kind: str,
    size: tuple[int, int, int, int],
    seed: int,
    slips: Callable[[np.ndarray, list[np.ndarray]], list[tuple[str, np.ndarray]]] | None,
) -> float:
    """Run the learner's ``fn`` on one Keras case; return the max abs difference or fail."""
    x, weights, want = keras_case(kind, size, seed)
    n, t_len, _, units = size
    copies = [x.copy(), *(w.copy() for w in weights)]
    shapes = ", ".join(
        f"{label} {a.shape}"
        for label, a in zip(("x", "kernel", "recurrent_kernel", "bias"), copies, strict=True)
    )
    what = f"{name} with {shapes}"
    got = as_array(fn(*copies), what)
    if not np.array_equal(copies[0], x) or any(
        not np.array_equal(c, w) for c, w in zip(copies[1:], weights, strict=True)
    ):
        raise CheckFailed(
            f"{what} changed its input arrays; compute new arrays instead of updating them in place"
        )
    if got.shape != want.shape:
        if got.shape == (n, units):
            raise CheckFailed(
                f"{what} returned shape {got.shape}, the last hidden state only; return every step's "
                f"state, shape (N, T, H) = {want.shape}, as Keras does with return_sequences=True"
            )
        if got.shape == (t_len, n, units):
            raise CheckFailed(
                f"{what} returned shape {got.shape}, time first; stack the states along axis 1 to get "
                f"(N, T, H) = {want.shape}"
            )
        raise CheckFailed(f"{what} returned shape {got.shape}; expected (N, T, H) = {want.shape}")
    diff = np.abs(got - want)
    if not np.all(np.isfinite(got)):
        raise CheckFailed(f"{what} returned non-finite values (nan or inf); expected values in (-1, 1)")
    if diff.max() <= TOLERANCE:
        return float(diff.max())
    i, t, j = (int(k) for k in np.unravel_index(int(np.argmax(diff)), diff.shape))
    first_t = int(np.argmax(diff.max(axis=(0, 2)) > TOLERANCE))
    message = (
        f"{what}: your hidden states differ from Keras's {kind.upper()} by up to {diff.max():.3g} "
        f"(sequence {i}, step {t}, unit {j}: got {got[i, t, j]:.6g}, expected {want[i, t, j]:.6g}); "
        f"the first step that differs is t = {first_t}"
    )
    for cause, variant in slips(x, weights) if slips else []:
        if np.allclose(got, variant, atol=TOLERANCE, rtol=0):
            raise CheckFailed(f"{message} — {cause}")
    if first_t > 0:
        message += " (step 0 is right, so look at what carries over from one step to the next)"
    raise CheckFailed(message)


def _check_forward(fn: Any, name: str, kind: str, slips: Any) -> str:
    expect_callable(fn, name)
    worst = 0.0
    for k, size in enumerate(SIZES):
        worst = max(worst, _compare(fn, name, kind, size, seed=70 + k, slips=slips if k == 0 else None))
    sizes = ", ".join(f"{n_in}→{units}" for _, _, n_in, units in SIZES)
    return (
        f"matches Keras's {kind.upper()} (return_sequences=True) on {len(SIZES)} random cases "
        f"(input→units {sizes}; up to {max(s[1] for s in SIZES)} steps): max abs difference {worst:.1e}"
    )


@checker("step7.lstm_forward")
def check_lstm_forward(lstm_forward: Any) -> str:
    return _check_forward(lstm_forward, "lstm_forward", "lstm", _lstm_slips)


@checker("step7.gru_forward")
def check_gru_forward(gru_forward: Any) -> str:
    return _check_forward(gru_forward, "gru_forward", "gru", _gru_slips)


# Parameter counts ----------------------------------------------------------------------------

# (n_in, units); the first sizes tell the usual slips apart, (1, 1) catches formulas fitted to them
COUNT_SIZES: list[tuple[int, int]] = [(3, 4), (10, 2), (28, 128), (1, 1), (64, 32), (300, 50)]


@checker("step7.param_counts")
def check_param_counts(lstm_params: Any, gru_params: Any) -> str:
    expect_callable(lstm_params, "lstm_params")
    expect_callable(gru_params, "gru_params")
    keras = _keras()
    for n_in, units in COUNT_SIZES:
        for name, fn, layer_class, gates in (
            ("lstm_params", lstm_params, keras.layers.LSTM, 4),
            ("gru_params", gru_params, keras.layers.GRU, 3),
        ):
            layer = layer_class(units)
            layer.build((None, None, n_in))
            want = int(layer.count_params())
            got = fn(n_in, units)
            what = f"{name}(n_in={n_in}, units={units})"
            if isinstance(got, bool) or not isinstance(got, int | np.integer):
                if isinstance(got, float | np.floating) and float(got).is_integer():
                    raise CheckFailed(f"{what} returned {got!r}, a float; return an int")
                raise CheckFailed(f"{what} returned {got!r}; expected an int")
            if got == want:
                continue
            weights = n_in * units + units * units
            causes = [
                (gates * weights, "the biases are missing"),
                (weights + units, f"that is one block's worth; the layer has {gates} blocks of weights"),
                (gates * (n_in * units + units), "the recurrent kernel (units × units per block) is missing"),
                (
                    gates * (weights + units),
                    "that is a GRU with one bias vector (reset_after=False); Keras's default "
                    "reset_after=True keeps two, one for the input side and one for the recurrent side",
                ),
                (gates * (weights + 2 * units), "one bias vector too many: an LSTM has one per block"),
                (4 * (weights + units), "that is an LSTM's count; a GRU has three blocks, not four"),
                (3 * (weights + 2 * units), "that is a GRU's count; an LSTM has four blocks, not three"),
            ]
            named = {cause for count, cause in causes if count == int(got)}
            cause = named.pop() if len(named) == 1 else ""
            raise CheckFailed(
                f"{what} returned {got}; Keras's {name.removesuffix('_params').upper()} layer has {want}"
                + (f" — {cause}" if cause else "")
            )
    return (
        f"both formulas match Keras's count_params() on {len(COUNT_SIZES)} sizes, from 1→1 to "
        f"{COUNT_SIZES[-1][0]}→{COUNT_SIZES[-1][1]}"
    )


# The forget gate's half-life -----------------------------------------------------------------

HALF_LIFE_STEPS = 40  # the notebook asks for C_40 = C_0 / 2
BIAS_TOLERANCE = 0.05


@checker("step7.forget_bias")
def check_forget_bias(half_life_bias: Any) -> str:
    """The prediction: the forget-gate bias whose gate, sigma(b_f), halves the cell in 40 steps."""
    if callable(half_life_bias):  # the notebook passes a function, so a stub is "not done yet"
        half_life_bias = half_life_bias()
    if isinstance(half_life_bias, bool) or not isinstance(half_life_bias, int | float | np.number):
        raise CheckFailed(f"half_life_bias() returned {half_life_bias!r}; expected one number, the bias b_f")
    got = float(half_life_bias)
    keep = 0.5 ** (1 / HALF_LIFE_STEPS)  # sigma(b_f) needed
    want = float(np.log(keep / (1 - keep)))
    kept = float(_sigmoid(np.array(got)) ** HALF_LIFE_STEPS)
    if abs(got - want) <= BIAS_TOLERANCE:
        return (
            f"b_f = {got:g}: σ(b_f)^{HALF_LIFE_STEPS} = {kept:.3f} of the cell is left after "
            f"{HALF_LIFE_STEPS} steps"
        )
    linear = 1 - 0.5 / HALF_LIFE_STEPS
    causes = [
        (
            abs(got - keep) < 2e-3,
            f"{got:g} is the value the gate σ(b_f) must take, 0.5^(1/{HALF_LIFE_STEPS}); the bias is its "
            "logit, ln(q / (1 - q))",
        ),
        (
            abs(got - float(np.log(linear / (1 - linear)))) <= BIAS_TOLERANCE,
            f"that gate, 1 - 0.5/{HALF_LIFE_STEPS}, takes away an equal amount each step; the cell is "
            f"multiplied by σ(b_f) at every step, so σ(b_f)^{HALF_LIFE_STEPS} = 1/2",
        ),
        (abs(got) < 1e-9, "σ(0) = 0.5 halves the cell at every step, not once in 40"),
    ]
    cause = next((text for hit, text in causes if hit), "")
    raise CheckFailed(
        f"half_life_bias() is {got:g}: a gate of σ({got:g}) = {float(_sigmoid(np.array(got))):.4f} keeps "
        f"{kept:.3g} of the cell after {HALF_LIFE_STEPS} steps, not 0.5"
        + (f" — {cause}" if cause else " — solve σ(b_f)^40 = 1/2 for b_f")
    )
