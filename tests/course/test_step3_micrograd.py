"""Checkers of notebook 3.04 (micrograd): each passes a right answer written differently from the
notebook's, fails the typical mistakes with a message that names them, and reports a stub as not
attempted. The right answers here differ on purpose: a set for ``_prev`` and an int ``grad`` as in
Karpathy's engine.py, the sigmoid through tanh, an iterative (Kahn) order instead of recursion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

_micrograd = course("step3.micrograd")
MAZUR_B = _micrograd.MAZUR_B
MAZUR_GRAD = _micrograd.MAZUR_GRAD
MAZUR_T = _micrograd.MAZUR_T
MAZUR_W = _micrograd.MAZUR_W
MAZUR_X = _micrograd.MAZUR_X
_mazur_exact_grad = _micrograd._mazur_exact_grad


def make_value(flaw: str = "") -> type:
    """A micrograd Value; ``flaw`` names one typical slip to build in."""

    class V:
        def __init__(self, data, children=(), op=""):
            self.data = data
            self.grad = 0
            self._backward = lambda: None
            self._prev = set(children)
            self._op = op

        @staticmethod
        def _wrap(x):
            return x if isinstance(x, V) else V(x)

        def __add__(self, other):
            if flaw == "no_wrap" and not isinstance(other, V):
                return self.data + other
            other = V._wrap(other)
            out = V(self.data + other.data, (self, other), "+")

            def back():
                if flaw == "no_chain":
                    self.grad += 1
                    other.grad += 1
                elif flaw == "assign":
                    self.grad = out.grad
                    other.grad = out.grad
                else:
                    self.grad += out.grad
                    other.grad += out.grad

            out._backward = back
            return out

        def __mul__(self, other):
            other = V._wrap(other)
            out = V(self.data * other.data, (self, other), "*")

            def back():
                if flaw == "swap":
                    self.grad += self.data * out.grad
                    other.grad += other.data * out.grad
                elif flaw == "assign":
                    self.grad = other.data * out.grad
                    other.grad = self.data * out.grad
                else:
                    self.grad += other.data * out.grad
                    other.grad += self.data * out.grad

            out._backward = back
            return out

        def __rmul__(self, other):
            return self * other

        def __neg__(self):
            return self * -1

        def __sub__(self, other):
            return self + (-V._wrap(other))

        def __rsub__(self, other):
            return V._wrap(other) + (-self)

        def sigmoid(self):
            s = 0.5 * (1 + math.tanh(0.5 * self.data))
            out = V(s, (self,), "sigmoid")

            def back():
                if flaw == "sigmoid_input":
                    self.grad += self.data * (1 - self.data) * out.grad
                else:
                    self.grad += s * (1 - s) * out.grad

            out._backward = back
            return out

    if flaw != "no_radd":
        V.__radd__ = lambda self, other: self + other
    return V


def kahn_backward(root):
    """A correct order without recursion: count each node's users, release a node at zero."""
    users: dict[int, int] = {}
    nodes, stack = {id(root): root}, [root]
    while stack:
        node = stack.pop()
        for child in node._prev:
            users[id(child)] = users.get(id(child), 0) + 1
            if id(child) not in nodes:
                nodes[id(child)] = child
                stack.append(child)
    root.grad = 1
    ready = [root]
    while ready:
        node = ready.pop()
        node._backward()
        for child in node._prev:
            users[id(child)] -= 1
            if users[id(child)] == 0:
                ready.append(child)


def make_backward(flaw: str = ""):
    def backward(root):
        topo, seen = [], set()

        def build(v):
            if flaw == "no_visited" or v not in seen:
                seen.add(v)
                for c in v._prev:
                    build(c)
                topo.append(v)

        build(root)
        if flaw != "no_seed":
            root.grad = 1.0
        for v in topo if flaw == "forward_order" else reversed(topo):
            v._backward()

    return backward


def bfs_backward(root):
    root.grad = 1.0
    queue, seen = [root], {id(root)}
    while queue:
        node = queue.pop(0)
        node._backward()
        for c in node._prev:
            if id(c) not in seen:
                seen.add(id(c))
                queue.append(c)


# ------------------------------------------------------------------------------------ value_ops


def test_value_ops_passes_karpathy_style_class():
    r = evaluate("step3.value_ops", make_value())
    assert r.status == "passed", r.message


def test_value_ops_stub_is_not_attempted():
    class Stub:
        def __init__(self, data, children=(), op=""):
            self.data, self.grad, self._prev = data, 0.0, tuple(children)

        def __add__(self, other):
            raise NotImplementedError

    assert evaluate("step3.value_ops", Stub).status == "not_attempted"


@pytest.mark.parametrize(
    ("flaw", "fragments"),
    [
        ("no_chain", ("a.grad = 1", "out.grad")),
        ("assign", ("a.grad = 3; expected 6", "+=")),
        ("swap", ("swapped", "other.data * out.grad")),
        ("sigmoid_input", ("added -9", "OUTPUT")),
        ("no_radd", ("1.5 + Value(2.0) raised TypeError", "__radd__")),
        ("no_wrap", ("Value(2.0) + 1.5 returned 3.5", "new Value")),
    ],
)
def test_value_ops_rejects(flaw, fragments):
    expect_failed(evaluate("step3.value_ops", make_value(flaw)), *fragments)


def test_value_ops_rejects_a_plain_float_result():
    V = make_value()
    V.__mul__ = lambda self, other: self.data * V._wrap(other).data
    expect_failed(evaluate("step3.value_ops", V), "returned -6.0 (float)", "new Value")


def test_value_ops_wants_the_class():
    expect_failed(evaluate("step3.value_ops", make_value()(1.0)), "pass the class Value itself")


# ------------------------------------------------------------------------------ value_backward


def test_value_backward_passes_recursive_topological_sort():
    r = evaluate("step3.value_backward", make_value(), make_backward())
    assert r.status == "passed", r.message


def test_value_backward_passes_kahn_order():
    r = evaluate("step3.value_backward", make_value(), kahn_backward)
    assert r.status == "passed", r.message


def test_value_backward_stub_is_not_attempted():
    assert evaluate("step3.value_backward", make_value(), stub).status == "not_attempted"


@pytest.mark.parametrize(
    ("backward", "fragments"),
    [
        (make_backward("no_seed"), ("out.grad is 0; expected 1", "seed")),
        (make_backward("forward_order"), ("ran before that of", "REVERSED")),
        (make_backward("no_visited"), ("ran twice", "visited")),
        (bfs_backward, ("ran before that of", "m used twice")),
    ],
)
def test_value_backward_rejects(backward, fragments):
    expect_failed(evaluate("step3.value_backward", make_value(), backward), *fragments)


def test_value_backward_catches_assignment_in_the_closures():
    # `=` in _backward: x0 + x0 collects one path only
    # value_ops catches it first, and value_backward says so rather than blame backward
    expect_failed(
        evaluate("step3.value_backward", make_value("assign"), make_backward()),
        "step3.value_ops does not pass yet",
        "Fix that first",
    )


def test_value_backward_that_clears_the_gradients_first_is_named():
    plain = make_backward()

    def clearing(root):
        seen, stack = set(), [root]
        while stack:
            v = stack.pop()
            if id(v) not in seen:
                seen.add(id(v))
                v.grad = 0.0
                stack.extend(v._prev)
        plain(root)

    expect_failed(
        evaluate("step3.value_backward", make_value(), clearing), "backward only adds", "training loop"
    )


def test_value_backward_catches_a_backward_that_skips_nodes():
    def only_root(root):
        root.grad = 1.0
        root._backward()

    expect_failed(evaluate("step3.value_backward", make_value(), only_root), "never ran")


# ------------------------------------------------------------------------------ micrograd_mazur


def make_mazur(V=None, *, half=0.5, wiring=(0, 1, 2, 3, 4, 5, 6, 7), fresh=True, backward=None):
    V = V or make_value()
    backward = backward or make_backward()
    kept = [V(v) for v in MAZUR_W]  # only used when fresh=False: Values that outlive a call

    def mazur_gradients(w, b, x, t):
        ws = [V(v) for v in w] if fresh else kept
        ww = [ws[k] for k in wiring]
        hidden = [sum((ww[2 * j + i] * x[i] for i in range(2)), V(b[0])).sigmoid() for j in range(2)]
        outs = [sum((ww[4 + 2 * k + j] * hidden[j] for j in range(2)), V(b[1])).sigmoid() for k in range(2)]
        error = sum((half * (o - tk) * (o - tk) for o, tk in zip(outs, t, strict=True)), V(0.0))
        backward(error)
        return error.data, tuple(float(v.grad) for v in ws)

    return mazur_gradients


def test_micrograd_mazur_passes():
    r = evaluate("step3.micrograd_mazur", make_mazur())
    assert r.status == "passed", r.message
    assert "0.082167041" in r.message


def test_micrograd_mazur_rejects_the_error_as_a_value():
    # The notebook's next cell formats E_total with :.9f, which a Value cannot take.
    right = make_mazur()

    def as_value(w, b, x, t):
        error, grads = right(w, b, x, t)
        return make_value()(error), grads

    expect_failed(evaluate("step3.micrograd_mazur", as_value), "as a Value", "error.data")


def test_micrograd_mazur_stub_is_not_attempted():
    assert evaluate("step3.micrograd_mazur", stub).status == "not_attempted"


def test_micrograd_mazur_rejects_missing_half():
    expect_failed(evaluate("step3.micrograd_mazur", make_mazur(half=1.0)), "twice", "½")


def test_micrograd_mazur_rejects_transposed_wiring():
    expect_failed(
        evaluate("step3.micrograd_mazur", make_mazur(wiring=(0, 2, 1, 3, 4, 6, 5, 7))),
        "expected 0.298371109",
        "w2: i2→h1",
    )


def test_micrograd_mazur_rejects_zero_gradients():
    def no_backward(w, b, x, t):
        return 0.298371109, [0.0] * 8

    expect_failed(evaluate("step3.micrograd_mazur", no_backward), "all eight gradients are 0")


def test_micrograd_mazur_rejects_gradients_that_pile_up_across_calls():
    expect_failed(evaluate("step3.micrograd_mazur", make_mazur(fresh=False)), "second call", "still in .grad")


def test_micrograd_mazur_rejects_hard_coded_numbers():
    def printed(w, b, x, t):
        return 0.298371109, list(MAZUR_GRAD)

    expect_failed(evaluate("step3.micrograd_mazur", printed), "E_total is 0.298371109; expected")


def test_micrograd_mazur_rejects_value_objects_as_gradients():
    def values(w, b, x, t):
        V = make_value()
        return 0.298371109, [V(g) for g in MAZUR_GRAD]

    expect_failed(evaluate("step3.micrograd_mazur", values), "Value objects", ".grad")


def test_mazur_closed_form_matches_the_post():
    g, _ = _mazur_exact_grad(np.array(MAZUR_W), MAZUR_B, MAZUR_X, MAZUR_T)
    assert np.allclose(g, MAZUR_GRAD, atol=1e-9)


# ------------------------------------------------------------------------------ micrograd_train


def make_train(*, zero=True, sign=-1.0, biases=False):
    V = make_value()
    backward = make_backward()

    def train(w, b, x, t, lr, steps):
        ws, bs = [V(v) for v in w], [V(v) for v in b]
        params = ws + bs if biases else ws
        n = 0
        while n < steps:
            if zero:
                for p in params:
                    p.grad = 0
            h = [(ws[2 * j] * x[0] + ws[2 * j + 1] * x[1] + bs[0]).sigmoid() for j in range(2)]
            o = [(ws[4 + 2 * k] * h[0] + ws[5 + 2 * k] * h[1] + bs[1]).sigmoid() for k in range(2)]
            error = 0.5 * ((o[0] - t[0]) * (o[0] - t[0])) + 0.5 * ((o[1] - t[1]) * (o[1] - t[1]))
            backward(error)
            for p in params:
                p.data = p.data + sign * lr * p.grad
            n += 1
        return tuple(v.data for v in ws)

    return train


def test_micrograd_train_passes():
    r = evaluate("step3.micrograd_train", make_train())
    assert r.status == "passed", r.message


def test_micrograd_train_stub_is_not_attempted():
    assert evaluate("step3.micrograd_train", stub).status == "not_attempted"


def test_micrograd_train_rejects_gradients_never_reset():
    expect_failed(evaluate("step3.micrograd_train", make_train(zero=False)), "one step is right", "to 0")


def test_micrograd_train_rejects_ascent():
    expect_failed(evaluate("step3.micrograd_train", make_train(sign=1.0)), "UP the gradient")


def test_micrograd_train_rejects_trained_biases():
    expect_failed(evaluate("step3.micrograd_train", make_train(biases=True)), "biases changed")


def test_micrograd_train_rejects_ignored_arguments():
    good = make_train()

    def fixed_lr(w, b, x, t, lr, steps):
        return good(w, b, x, t, 0.5, steps)

    expect_failed(evaluate("step3.micrograd_train", fixed_lr), "lr=1.3", "use the b, x, t and lr")


def test_micrograd_train_rejects_a_step_on_zero_steps():
    good = make_train()
    expect_failed(
        evaluate("step3.micrograd_train", lambda w, b, x, t, lr, steps: good(w, b, x, t, lr, steps + 1)),
        "steps=0",
    )
