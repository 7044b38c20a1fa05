"""Step 6.1 checkers (char-RNN): each passes right answers, written two ways, and fails the
mistakes beginners make with a message that names the cause."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

char_rnn = course("step6").char_rnn

KEYS = ("Wxh", "Whh", "Why", "bh", "by")


# Right answers ------------------------------------------------------------------------------


def softmax(y: np.ndarray) -> np.ndarray:
    e = np.exp(y - y.max())
    return e / e.sum()


def forward(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray], **bugs: bool) -> Any:
    """The forward pass, loop style; ``bugs`` switches on one beginner mistake at a time."""
    hs, ps, loss, h = [], [], 0.0, (np.zeros_like(h_prev) if bugs.get("zero_h") else h_prev)
    for x, y in zip(inputs, targets, strict=True):
        h = np.tanh(p["Wxh"] @ np.eye(p["Wxh"].shape[1])[x] + p["Whh"] @ h + p["bh"])  # one-hot product
        logits = p["Why"] @ h + p["by"]
        prob = np.exp(logits) / np.exp(logits).sum() if bugs.get("no_max") else softmax(logits)
        hs.append(h)
        ps.append(prob)
        loss -= np.log(prob[x if bugs.get("score_inputs") else y])
    if bugs.get("mean"):
        loss /= len(inputs)
    return loss, np.array(hs), np.array(ps)


def backward(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray], **bugs: bool) -> Any:
    """min-char-rnn's lossFun, with outer products inside the loop."""
    loss, hs, ps = forward(inputs, targets, h_prev, p)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dhnext = np.zeros_like(h_prev)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        g["Why"] += np.outer(dy, hs[t])
        g["by"] += dy
        dh = p["Why"].T @ dy + (0 if bugs.get("no_dhnext") else dhnext)
        draw = ((1 - hs[t]) if bugs.get("tanh_h") else (1 - hs[t] * hs[t])) * dh
        g["bh"] += draw
        g["Wxh"][:, inputs[t]] += draw
        before = np.zeros_like(h_prev) if bugs.get("zero_h_prev") and not t else (hs[t - 1] if t else h_prev)
        g["Whh"] += np.outer(draw, hs[t] if bugs.get("whh_h_t") else before)
        dhnext = p["Whh"].T @ draw
    if bugs.get("clip_all"):
        g = {k: np.clip(v, -0.01, 0.01) for k, v in g.items()}
    if bugs.get("clip_5"):  # the clipping of section 3, done too early
        g = {k: np.clip(v, -5, 5) for k, v in g.items()}
    return loss, g, hs[-1]


def adagrad(params: Any, grads: Any, memory: Any, lr: float = 0.1, clip: float = 5.0, **bugs: bool) -> None:
    for k in params:
        g = grads[k] if bugs.get("no_clip") else np.clip(grads[k], -clip, clip)
        if bugs.get("assign"):
            memory[k][...] = g * g
        else:
            memory[k] += g * g
        if bugs.get("no_eps"):
            params[k] -= lr * g / np.sqrt(memory[k])
        elif bugs.get("no_sqrt"):
            params[k] -= lr * g / (memory[k] + 1e-8)
        else:
            params[k] -= lr * g / np.sqrt(memory[k] + 1e-8)
        if bugs.get("clip_params"):
            np.clip(params[k], -clip, clip, out=params[k])


def sample(
    params: Any, h: np.ndarray, seed_ix: int, n: int, temperature: float = 1.0, rng: Any = None, **bugs: bool
) -> list[int]:
    rng = np.random.default_rng() if rng is None else rng
    x, out, h0 = seed_ix, [], h
    for _ in range(n):
        if bugs.get("reset_h"):
            h = h0
        h = np.tanh(params["Wxh"][:, x] + params["Whh"] @ h + params["bh"])
        y = params["Why"] @ h + params["by"]
        y = y * temperature if bugs.get("times_t") else y / temperature
        p = np.exp(y) / np.exp(y).sum() if bugs.get("no_max") else softmax(y)
        nxt = int(np.argmax(p)) if bugs.get("argmax") else int(rng.choice(len(p), p=p))
        out.append(nxt)
        if not bugs.get("no_feedback"):
            x = nxt
    return out


def sample_cdf(
    params: Any, h: np.ndarray, seed_ix: int, n: int, temperature: float = 1.0, rng: Any = None
) -> Any:
    """Written differently: inverse-CDF draws, an array out."""
    rng = np.random.default_rng(0) if rng is None else rng
    out = np.empty(n, dtype=np.int32)
    x = seed_ix
    for i in range(n):
        h = np.tanh(params["Wxh"] @ np.eye(params["Wxh"].shape[1])[x] + params["Whh"] @ h + params["bh"])
        p = softmax((params["Why"] @ h + params["by"]) / temperature)
        x = out[i] = min(int(np.searchsorted(np.cumsum(p), rng.random())), len(p) - 1)
    return out


def make_train(back: Any = backward, **bugs: bool) -> Any:
    def train(
        data: Any,
        vocab_size: int,
        n_iter: int,
        hidden_size: int = 100,
        seq_length: int = 25,
        lr: float = 0.1,
        seed: int = 0,
        report: Any = None,
        report_every: int = 1000,
    ) -> Any:
        rng = np.random.default_rng(0 if bugs.get("fixed_seed") else seed)  # its own generator
        params = {
            "Wxh": rng.standard_normal((hidden_size, vocab_size)) * 0.01,
            "Whh": rng.standard_normal((hidden_size, hidden_size)) * 0.01,
            "Why": rng.standard_normal((vocab_size, hidden_size)) * 0.01,
            "bh": np.zeros(hidden_size),
            "by": np.zeros(vocab_size),
        }
        memory = {k: np.zeros_like(v) for k, v in params.items()}
        smooth, losses, p, h = np.log(vocab_size) * seq_length, [], 0, np.zeros(hidden_size)
        for _ in range(n_iter):
            if p + seq_length + 1 > len(data):
                p, h = 0, np.zeros(hidden_size)
            inputs = data[p : p + seq_length]
            targets = inputs if bugs.get("same_targets") else data[p + 1 : p + seq_length + 1]
            if bugs.get("reset_h"):  # a fresh state every window, though the text is consecutive
                h = np.zeros(hidden_size)
            loss, grads, h = back(inputs, targets, h, params)
            if not bugs.get("no_update"):
                adagrad(params, grads, memory, lr)
            smooth = 0.999 * smooth + 0.001 * loss
            losses.append(smooth)
            if not bugs.get("stuck"):
                p += seq_length
        return params, losses

    return train


def fast_backward(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray]) -> Any:
    """Vectorised weight gradients (the notebook's style), for a quick training test."""
    loss, hs, ps = char_rnn.forward(inputs, targets, h_prev, p)
    T = len(inputs)
    dys = ps.copy()
    dys[np.arange(T), targets] -= 1
    draws, dhnext = np.zeros_like(hs), np.zeros_like(h_prev)
    for t in reversed(range(T)):
        draws[t] = (1 - hs[t] ** 2) * (p["Why"].T @ dys[t] + dhnext)
        dhnext = p["Whh"].T @ draws[t]
    dWxh = np.zeros_like(p["Wxh"])
    np.add.at(dWxh.T, inputs, draws)
    g = {
        "Wxh": dWxh,
        "Whh": draws.T @ np.vstack([h_prev, hs[:-1]]),
        "Why": dys.T @ hs,
        "bh": draws.sum(0),
        "by": dys.sum(0),
    }
    return loss, g, hs[-1]


# rnn_forward ---------------------------------------------------------------------------------


def test_forward_right() -> None:
    r = evaluate("step6.rnn_forward", forward)
    assert r.status == "passed", r.message


def test_forward_reference_is_right() -> None:
    r = evaluate("step6.rnn_forward", char_rnn.forward)
    assert r.status == "passed", r.message


def test_forward_softmax_without_max_overflows() -> None:
    r = evaluate("step6.rnn_forward", lambda *a: forward(*a, no_max=True))
    expect_failed(r, "1000", "overflows", "subtract the max")


def test_forward_ignores_h_prev() -> None:
    expect_failed(evaluate("step6.rnn_forward", lambda *a: forward(*a, zero_h=True)), "from h_prev")


def test_forward_scores_the_inputs() -> None:
    r = evaluate("step6.rnn_forward", lambda *a: forward(*a, score_inputs=True))
    expect_failed(r, "targets[t]", "next character")


def test_forward_mean_instead_of_sum() -> None:
    expect_failed(evaluate("step6.rnn_forward", lambda *a: forward(*a, mean=True)), "averaged", "sums")


def test_forward_keeps_h_prev_as_a_row() -> None:
    # min-char-rnn keeps hs[-1] = h_prev in a dict; stacked, that is T + 1 rows.
    def with_h_prev(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray]) -> Any:
        loss, hs, ps = forward(inputs, targets, h_prev, p)
        return loss, np.vstack([h_prev, hs]), ps

    r = evaluate("step6.rnn_forward", with_h_prev)
    expect_failed(r, "hs has shape (2, 4); expected (T, H) = (1, 4)", "one row too many", "not h_prev")


def test_forward_loop_skips_the_first_step() -> None:
    def from_one(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray]) -> Any:
        return forward(inputs[1:], targets[1:], h_prev, p)

    expect_failed(evaluate("step6.rnn_forward", from_one), "hs has shape (0,)", "one step short", "range(T)")


def test_forward_stub() -> None:
    assert evaluate("step6.rnn_forward", stub).status == "not_attempted"


# rnn_backward --------------------------------------------------------------------------------


def test_backward_right_loop_style() -> None:
    r = evaluate("step6.rnn_backward", backward)
    assert r.status == "passed", r.message
    assert "central differences" in r.message


def test_backward_right_vectorised() -> None:
    assert evaluate("step6.rnn_backward", fast_backward).status == "passed"


def test_backward_without_dhnext() -> None:
    r = evaluate("step6.rnn_backward", lambda *a: backward(*a, no_dhnext=True))
    expect_failed(r, "T = 4", "dhnext", "central differences")


def test_backward_tanh_derivative_one_minus_h() -> None:
    r = evaluate("step6.rnn_backward", lambda *a: backward(*a, tanh_h=True))
    expect_failed(r, "T = 1 ", "1 - h²")


def test_backward_clips_too_hard() -> None:
    expect_failed(evaluate("step6.rnn_backward", lambda *a: backward(*a, clip_all=True)), "relative error")


def test_backward_returns_clipped_gradients() -> None:
    # Used to blame dy ("dy = ps[t] with 1 subtracted ..."), which was right.
    r = evaluate("step6.rnn_backward", lambda *a: backward(*a, clip_5=True))
    expect_failed(r, "stop at ±5", "raw gradients", "adagrad_update clips")


@pytest.mark.parametrize("bug", ["zero_h_prev", "whh_h_t"])
def test_backward_whh_with_the_wrong_state(bug: str) -> None:
    # Used to say "check dh = Why.T @ dy and dh_raw = (1 - h²) * dh", both of which were right.
    r = evaluate("step6.rnn_backward", lambda *a: backward(*a, **{bug: True}))
    expect_failed(r, "grads['Whh']", "every other gradient is right", "h_(t-1)", "h_prev itself at t = 0")


def test_backward_forgets_h_last() -> None:
    r = evaluate("step6.rnn_backward", lambda *a: backward(*a)[:2] + (a[2],))
    expect_failed(r, "h_last", "hs[-1]")


def test_backward_stub() -> None:
    assert evaluate("step6.rnn_backward", stub).status == "not_attempted"


# adagrad_update ------------------------------------------------------------------------------


def test_adagrad_right() -> None:
    r = evaluate("step6.adagrad_update", adagrad)
    assert r.status == "passed", r.message


def test_adagrad_epsilon_outside_the_root_and_grads_clipped_in_place() -> None:
    def other(params: Any, grads: Any, memory: Any, lr: float = 0.1, clip: float = 5.0) -> None:
        for k, g in grads.items():
            np.clip(g, -clip, clip, out=g)  # min-char-rnn clips in place
            memory[k] += g**2
            params[k] -= lr * g / (np.sqrt(memory[k]) + 1e-8)

    assert evaluate("step6.adagrad_update", other).status == "passed"


@pytest.mark.parametrize(
    ("bug", "fragments"),
    [
        ("no_clip", ("*clipped*", "clip before the update")),
        ("no_eps", ("nan", "1e-8")),
        ("no_sqrt", ("square root",)),
        ("assign", ("accumulate", "+=")),
        ("clip_params", ("not the parameters",)),
    ],
)
def test_adagrad_mistakes(bug: str, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step6.adagrad_update", lambda *a: adagrad(*a, **{bug: True})), *fragments)


def test_adagrad_not_in_place() -> None:
    def rebinds(params: Any, grads: Any, memory: Any, lr: float = 0.1, clip: float = 5.0) -> Any:
        new = {}
        for k in params:
            g = np.clip(grads[k], -clip, clip)
            m = memory[k] + g * g
            new[k] = params[k] - lr * g / np.sqrt(m + 1e-8)
        return new

    expect_failed(evaluate("step6.adagrad_update", rebinds), "unchanged", "in place")


def test_adagrad_stub() -> None:
    assert evaluate("step6.adagrad_update", stub).status == "not_attempted"


# sample_chars --------------------------------------------------------------------------------


def test_sample_right() -> None:
    r = evaluate("step6.sample_chars", sample)
    assert r.status == "passed", r.message


def test_sample_right_written_differently() -> None:
    assert evaluate("step6.sample_chars", sample_cdf).status == "passed"


@pytest.mark.parametrize(
    ("bug", "fragments"),
    [
        ("argmax", ("argmax", "rng.choice")),
        ("times_t", ("divide the logits by the temperature",)),
        ("no_max", ("overflows", "largest logit")),
        ("no_feedback", ("feed each sampled character back",)),
        ("reset_h", ("reset at every step",)),
    ],
)
def test_sample_mistakes(bug: str, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step6.sample_chars", lambda *a: sample(*a, **{bug: True})), *fragments)


def test_sample_changes_h_in_place() -> None:
    def in_place(
        params: Any, h: np.ndarray, seed_ix: int, n: int, temperature: float = 1.0, rng: Any = None
    ) -> Any:
        out = sample(params, h.copy(), seed_ix, n, temperature, rng)
        h += 1.0
        return out

    expect_failed(evaluate("step6.sample_chars", in_place), "in place")


def test_sample_stub() -> None:
    assert evaluate("step6.sample_chars", stub).status == "not_attempted"


# train_char_rnn (trains for real: a few seconds each) ----------------------------------------


@pytest.mark.slow
def test_train_right() -> None:
    r = evaluate("step6.train_char_rnn", make_train(fast_backward))
    assert r.status == "passed", r.message
    assert "unigram baseline" in r.message


@pytest.mark.slow
def test_train_targets_equal_inputs() -> None:
    r = evaluate("step6.train_char_rnn", make_train(fast_backward, same_targets=True))
    expect_failed(r, "the character it is reading", "data[p + 1")


@pytest.mark.slow
def test_train_pointer_never_moves() -> None:
    r = evaluate("step6.train_char_rnn", make_train(fast_backward, stuck=True))
    expect_failed(r, "pointer p", "seq_length")


@pytest.mark.slow
def test_train_no_update() -> None:
    r = evaluate("step6.train_char_rnn", make_train(fast_backward, no_update=True))
    expect_failed(r, "hardly fell", "adagrad_update")


def test_train_stub() -> None:
    assert evaluate("step6.train_char_rnn", stub).status == "not_attempted"


# float32 answers, a skipped step, ignored arguments (issue 24's sweep) --------------------------


def forward32(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray]) -> Any:
    """A right answer in float32 throughout."""
    q = {k: v.astype(np.float32) for k, v in p.items()}
    hs = np.zeros((len(inputs), q["Whh"].shape[0]), dtype=np.float32)
    ps = np.zeros((len(inputs), q["Why"].shape[0]), dtype=np.float32)
    h, loss = h_prev.astype(np.float32), np.float32(0.0)
    for t, (x, y) in enumerate(zip(inputs, targets, strict=True)):
        h = np.tanh(q["Wxh"][:, x] + q["Whh"] @ h + q["bh"])
        z = q["Why"] @ h + q["by"]
        e = np.exp(z - z.max())
        hs[t], ps[t] = h, e / e.sum()
        loss -= np.log(ps[t, y])
    return loss, hs, ps


def backward32(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray]) -> Any:
    loss, hs, ps = forward32(inputs, targets, h_prev, p)
    q = {k: v.astype(np.float32) for k, v in p.items()}
    dys = ps.copy()
    dys[np.arange(len(inputs)), targets] -= 1  # the softmax-CE gradient, in float32
    draws, dhnext = np.zeros_like(hs), np.zeros(hs.shape[1], dtype=np.float32)
    for t in reversed(range(len(inputs))):
        draws[t] = (1 - hs[t] ** 2) * (q["Why"].T @ dys[t] + dhnext)
        dhnext = q["Whh"].T @ draws[t]
    dWxh = np.zeros_like(q["Wxh"])
    np.add.at(dWxh.T, inputs, draws)
    h_before = np.vstack([h_prev.astype(np.float32), hs[:-1]])
    g = {"Wxh": dWxh, "Whh": draws.T @ h_before, "Why": dys.T @ hs, "bh": draws.sum(0), "by": dys.sum(0)}
    return loss, g, hs[-1]


def test_forward_float32_passes() -> None:
    r = evaluate("step6.rnn_forward", forward32)
    assert r.status == "passed", r.message


def test_backward_float32_passes() -> None:
    r = evaluate("step6.rnn_backward", backward32)
    assert r.status == "passed", r.message


@pytest.mark.parametrize(("skip", "loop"), [(0, "range(1, T)"), (-1, "range(T - 1)")])
def test_backward_loop_skips_a_step(skip: int, loop: str) -> None:
    def skips(inputs: Any, targets: Any, h_prev: np.ndarray, p: dict[str, np.ndarray]) -> Any:
        loss, hs, ps = forward(inputs, targets, h_prev, p)
        g = {k: np.zeros_like(v) for k, v in p.items()}
        dhnext = np.zeros_like(h_prev)
        steps = range(1, len(inputs)) if skip == 0 else range(len(inputs) - 1)
        for t in reversed(steps):
            dy = ps[t].copy()
            dy[targets[t]] -= 1
            g["Why"] += np.outer(dy, hs[t])
            g["by"] += dy
            draw = (1 - hs[t] ** 2) * (p["Why"].T @ dy + dhnext)
            g["bh"] += draw
            g["Wxh"][:, inputs[t]] += draw
            g["Whh"] += np.outer(draw, hs[t - 1] if t else h_prev)
            dhnext = p["Whh"].T @ draw
        return loss, g, hs[-1]

    r = evaluate("step6.rnn_backward", skips)
    expect_failed(r, "leaves out step t =", loop, "formulas at the other steps are right")


def test_sample_ignores_the_rng_it_is_given() -> None:
    def own(
        params: Any, h: np.ndarray, seed_ix: int, n: int, temperature: float = 1.0, rng: Any = None
    ) -> Any:
        return sample(params, h, seed_ix, n, temperature, np.random.default_rng(0))

    expect_failed(evaluate("step6.sample_chars", own), "default_rng(6) drew the same", "ignored")


def test_sample_draws_from_the_global_generator() -> None:
    class Global:
        def choice(self, n: int, p: Any) -> Any:
            return np.random.choice(n, p=p)

    def glob(
        params: Any, h: np.ndarray, seed_ix: int, n: int, temperature: float = 1.0, rng: Any = None
    ) -> Any:
        return sample(params, h, seed_ix, n, temperature, Global())

    expect_failed(evaluate("step6.sample_chars", glob), "drew different characters", "global generator")


def test_sample_ignores_seed_ix() -> None:
    def from_zero(
        params: Any, h: np.ndarray, seed_ix: int, n: int, temperature: float = 1.0, rng: Any = None
    ) -> Any:
        return sample(params, h, 0, n, temperature, rng)

    expect_failed(evaluate("step6.sample_chars", from_zero), "seed_ix = 2", "the first input is seed_ix")


def test_train_own_fixed_generator() -> None:
    r = evaluate("step6.train_char_rnn", make_train(fast_backward, fixed_seed=True))
    expect_failed(r, "another seed", "default_rng(seed)")


def test_train_resets_h_every_window() -> None:
    r = evaluate("step6.train_char_rnn", make_train(fast_backward, reset_h=True))
    expect_failed(r, "every window starts from h = zeros", "carried")


# truncated_bptt (a prediction) ---------------------------------------------------------------


def test_truncated_bptt_right() -> None:
    r = evaluate("step6.truncated_bptt", lambda: {"longest_dependency": 25})
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (24, "one character further"),
        (float("inf"), "h_prev as a constant"),
        (1000, "no gradient"),
        (5, "data[p]"),
    ],
)
def test_truncated_bptt_wrong(value: float, fragment: str) -> None:
    expect_failed(evaluate("step6.truncated_bptt", lambda: {"longest_dependency": value}), fragment)


def test_truncated_bptt_stub() -> None:
    assert evaluate("step6.truncated_bptt", stub).status == "not_attempted"
