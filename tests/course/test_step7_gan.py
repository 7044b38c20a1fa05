"""Step 7, notebook 4 checkers: GAN losses from logits, two predictions (the saturating loss's
gradient, the optimal discriminator), one alternating update, and the Dirac-GAN.

Each passes a right answer and one written differently, and fails the slips beginners make
(the saturating generator loss, swapped labels, a sigmoid applied twice, an unstable log, the
wrong variable list, a simultaneous instead of an alternating update, gradient ascent, an
ignored argument, a missing chain-rule factor) with a message that names them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import COURSE_ROOT, course

gan = course("step7").gan

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def d_loss(r: Any, f: Any) -> Any:
    ones, zeros = tf.ones_like(r), tf.zeros_like(f)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=ones, logits=r)) + tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=zeros, logits=f)
    )


def g_loss(f: Any) -> Any:
    return tf.reduce_mean(tf.nn.softplus(-f))


BCE = keras.losses.BinaryCrossentropy(from_logits=True)


def d_loss_keras(r: Any, f: Any) -> Any:
    return BCE(tf.ones_like(r), r) + BCE(tf.zeros_like(f), f)


def g_loss_keras(f: Any) -> Any:
    return BCE(tf.ones_like(f), f)


# Losses -------------------------------------------------------------------------------------


def test_losses_right() -> None:
    r = evaluate("step7.gan_losses", d_loss, g_loss)
    assert r.status == "passed", r.message
    assert "1.386" in r.message


def test_losses_written_differently() -> None:
    r = evaluate("step7.gan_losses", d_loss_keras, g_loss_keras)
    assert r.status == "passed", r.message


def test_losses_saturating_generator() -> None:
    r = evaluate("step7.gan_losses", d_loss, lambda f: -tf.reduce_mean(tf.nn.softplus(f)))
    expect_failed(r, "generator_loss", "saturating loss log(1 − D(G(z)))")


def test_losses_generator_labels_fake() -> None:
    r = evaluate("step7.gan_losses", d_loss, lambda f: tf.reduce_mean(tf.nn.softplus(f)))
    expect_failed(r, "labels its own samples 0")


def test_losses_labels_swapped() -> None:
    r = evaluate("step7.gan_losses", lambda r, f: d_loss(f, r), g_loss)
    expect_failed(r, "discriminator_loss", "labels are swapped")


def test_losses_sigmoid_twice() -> None:
    r = evaluate("step7.gan_losses", lambda r, f: d_loss(tf.sigmoid(r), tf.sigmoid(f)), g_loss)
    expect_failed(r, "a sigmoid was applied")


def test_losses_unstable_log() -> None:
    def naive_g(f: Any) -> Any:
        return -tf.reduce_mean(tf.math.log(tf.sigmoid(f)))

    def naive_d(r: Any, f: Any) -> Any:
        return -tf.reduce_mean(tf.math.log(tf.sigmoid(r))) - tf.reduce_mean(tf.math.log(1 - tf.sigmoid(f)))

    expect_failed(evaluate("step7.gan_losses", naive_d, naive_g), "1000", "stable formula")


def test_losses_half_sum() -> None:
    expect_failed(
        evaluate("step7.gan_losses", lambda r, f: 0.5 * d_loss(r, f), g_loss), "averaged the two terms"
    )


def test_losses_numpy_not_differentiable() -> None:
    def numpy_g(f: Any) -> Any:
        a = -np.asarray(f, dtype=float)
        return float(np.mean(np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))))

    expect_failed(evaluate("step7.gan_losses", d_loss, numpy_g), "cannot differentiate")


def test_losses_numpy_scalar_named_not_a_tape_error() -> None:
    # np.mean returns a numpy.float32: the tape used to fail inside TensorFlow with
    # "'numpy.float32' object has no attribute '_id'", which told the learner nothing.
    def numpy_d(r: Any, f: Any) -> Any:
        return np.mean(np.logaddexp(0, -np.asarray(r))) + np.mean(np.logaddexp(0, np.asarray(f)))

    def numpy_g(f: Any) -> Any:
        return np.mean(np.logaddexp(0, -np.asarray(f)))

    result = evaluate("step7.gan_losses", numpy_d, numpy_g)
    expect_failed(result, "generator_loss returned numpy.float", "cannot differentiate", "TensorFlow")
    assert "_id" not in result.message
    expect_failed(evaluate("step7.gan_losses", numpy_d, g_loss), "discriminator_loss returned numpy.float")


def test_losses_unstable_generator_names_only_fake_logits() -> None:
    def naive_g(f: Any) -> Any:
        return -tf.reduce_mean(tf.math.log(tf.sigmoid(f)))

    result = evaluate("step7.gan_losses", d_loss, naive_g)
    expect_failed(result, "generator_loss with fake logits (1000, −1000)", "log(0)")
    assert "real" not in result.message


def test_losses_stub() -> None:
    assert evaluate("step7.gan_losses", stub, stub).status == "not_attempted"


# One alternating step -----------------------------------------------------------------------


def make_step(
    *,
    simultaneous: bool = False,
    d_vars_all: bool = False,
    g_vars_all: bool = False,
    g_sign: float = 1.0,
    use_apply: bool = False,
    skip_g: bool = False,
    swap_labels: bool = False,
    ignore_g_loss: bool = False,
) -> Any:
    def step(gen: Any, disc: Any, g_opt: Any, d_opt: Any, real: Any, z: Any, g_loss: Any = g_loss) -> Any:
        if ignore_g_loss:
            g_loss = globals()["g_loss"]
        with tf.GradientTape(persistent=True) as tape:
            fake = gen(z, training=True)
            if swap_labels:
                dl = d_loss(disc(fake, training=True), disc(real, training=True))
            else:
                dl = d_loss(disc(real, training=True), disc(fake, training=True))
            gl0 = g_loss(disc(fake, training=True))
        d_vars = disc.trainable_variables + (gen.trainable_variables if d_vars_all else [])
        grads = tape.gradient(dl, d_vars)
        if simultaneous:
            g_grads = tape.gradient(gl0, gen.trainable_variables)
        if use_apply:
            d_opt.apply(grads, d_vars)
        else:
            d_opt.apply_gradients(zip(grads, d_vars, strict=True))
        if skip_g:
            return dl, gl0
        if simultaneous:
            g_opt.apply_gradients(zip(g_grads, gen.trainable_variables, strict=True))
            return dl, gl0
        with tf.GradientTape() as tape2:
            gl = g_loss(disc(gen(z, training=True), training=True))
        g_vars = gen.trainable_variables + (disc.trainable_variables if g_vars_all else [])
        g_grads = [g_sign * g for g in tape2.gradient(gl, g_vars)]
        g_opt.apply_gradients(zip(g_grads, g_vars, strict=True))
        return dl, gl

    return step


def step_stop_gradient(
    gen: Any, disc: Any, g_opt: Any, d_opt: Any, real: Any, z: Any, g_loss: Any = g_loss_keras
) -> Any:
    """Written differently: fakes detached by stop_gradient, Keras 3's optimizer.apply, a tf.function."""
    fake = tf.stop_gradient(gen(z))
    with tf.GradientTape() as tape:
        dl = d_loss_keras(disc(real), disc(fake))
    d_opt.apply(tape.gradient(dl, disc.trainable_variables), disc.trainable_variables)
    with tf.GradientTape() as tape:
        gl = g_loss(disc(gen(z)))
    g_opt.apply(tape.gradient(gl, gen.trainable_variables), gen.trainable_variables)
    return dl, gl


def test_step_right() -> None:
    r = evaluate("step7.gan_train_step", make_step())
    assert r.status == "passed", r.message


def test_step_written_differently() -> None:
    r = evaluate("step7.gan_train_step", tf.function(step_stop_gradient))
    assert r.status == "passed", r.message


def test_step_simultaneous() -> None:
    expect_failed(evaluate("step7.gan_train_step", make_step(simultaneous=True)), "alternating step")


def test_step_discriminator_step_moves_generator() -> None:
    r = evaluate("step7.gan_train_step", make_step(d_vars_all=True))
    expect_failed(r, "generator's new weights", "discriminator.trainable_variables only")


def test_step_generator_step_moves_discriminator() -> None:
    r = evaluate("step7.gan_train_step", make_step(g_vars_all=True))
    expect_failed(r, "discriminator's new weights", "generator.trainable_variables only")


def test_step_gradient_ascent() -> None:
    expect_failed(evaluate("step7.gan_train_step", make_step(g_sign=-1.0)), "gradient ascent")


def test_step_generator_not_updated() -> None:
    expect_failed(
        evaluate("step7.gan_train_step", make_step(skip_g=True)), "generator's weights did not change"
    )


def test_step_labels_swapped_named() -> None:
    # The sweep: swapped real and fake labels were told to check the losses exercise, which passes.
    r = evaluate("step7.gan_train_step", make_step(swap_labels=True))
    expect_failed(r, "discriminator's new weights", "labels are swapped", "real first")
    assert "gan_losses" not in r.message


def test_step_ignores_g_loss() -> None:
    r = evaluate("step7.gan_train_step", make_step(ignore_g_loss=True))
    expect_failed(r, "g_loss=saturating", "trained with generator_loss although g_loss was passed")


def test_step_without_g_loss_parameter() -> None:
    inner = make_step()

    def six_args(gen: Any, disc: Any, g_opt: Any, d_opt: Any, real: Any, z: Any) -> Any:
        return inner(gen, disc, g_opt, d_opt, real, z)

    expect_failed(evaluate("step7.gan_train_step", six_args), "takes no g_loss argument")


def test_step_stub() -> None:
    assert evaluate("step7.gan_train_step", stub).status == "not_attempted"


# Predictions --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [99, 99.0, np.float32(99.0), 0.99 / 0.01])
def test_saturation_right(value: Any) -> None:
    r = evaluate("step7.gan_saturation", lambda: value)
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (1 / 99, "inverse"),
        (100.0, "slopes in σ(f)"),
        (1.0, "not the same size"),
        (float(np.log(0.01) / np.log(0.99)), "loss values"),
        (42.0, "(1 − σ(f)) / σ(f) = 99"),
    ],
)
def test_saturation_wrong(value: float, fragment: str) -> None:
    expect_failed(evaluate("step7.gan_saturation", lambda: value), "saturation_ratio() is", fragment)


def test_saturation_not_a_number() -> None:
    expect_failed(evaluate("step7.gan_saturation", lambda: [99]), "one number")


def test_saturation_stub() -> None:
    assert evaluate("step7.gan_saturation", stub).status == "not_attempted"


@pytest.mark.parametrize(
    "answer",
    [
        {"probability": 0.75, "logit": float(np.log(3))},
        {"probability": 3 / 4, "logit": np.float32(1.0986)},
        {"logit": np.log(0.75 / 0.25), "probability": np.float64(0.75)},
    ],
)
def test_optimal_discriminator_right(answer: dict[str, Any]) -> None:
    r = evaluate("step7.optimal_discriminator", lambda: answer)
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ({"probability": 3.0, "logit": 1.0986}, "density ratio itself"),
        ({"probability": 0.25, "logit": -1.0986}, "belief that x is REAL"),
        ({"probability": 0.5, "logit": 0.0}, "equal"),
        ({"probability": 0.75, "logit": 0.75}, "probability again"),
        ({"probability": 0.75, "logit": 3.0}, "LOG of the density ratio"),
        ({"probability": 0.75, "logit": -1.0986}, "sign is reversed"),
        ({"probability": 0.75, "logit": float(np.log10(3))}, "log10"),
    ],
)
def test_optimal_discriminator_wrong(answer: dict[str, float], fragment: str) -> None:
    expect_failed(evaluate("step7.optimal_discriminator", lambda: answer), fragment)


def test_optimal_discriminator_keys() -> None:
    expect_failed(evaluate("step7.optimal_discriminator", lambda: 0.75), "keys")


def test_optimal_discriminator_stub() -> None:
    assert evaluate("step7.optimal_discriminator", stub).status == "not_attempted"


# The Dirac-GAN ------------------------------------------------------------------------------


def sig(a: float) -> float:
    return 1.0 / (1.0 + np.exp(-a))


def dirac(theta: float, psi: float, lr: float, steps: int, simultaneous: bool = True) -> np.ndarray:
    path = [(theta, psi)]
    for _ in range(steps):
        new_psi = psi - lr * theta * sig(psi * theta)
        seen = psi if simultaneous else new_psi
        theta = theta + lr * seen * sig(seen * theta)
        psi = new_psi
        path.append((theta, psi))
    return np.array(path)


def dirac_float32(theta: float, psi: float, lr: float, steps: int, simultaneous: bool = True) -> Any:
    """Written differently: a preallocated float32 array, vector updates, tanh for σ."""
    out = np.zeros((steps + 1, 2), dtype=np.float32)
    p = np.array([theta, psi], dtype=np.float32)
    out[0] = p
    for k in range(steps):
        s = 0.5 * (1 + np.tanh(0.5 * p[0] * p[1]))
        if simultaneous:
            p = p + lr * s * np.array([p[1], -p[0]], dtype=np.float32)
        else:
            p[1] = p[1] - lr * p[0] * s
            p[0] = p[0] + lr * p[1] * 0.5 * (1 + np.tanh(0.5 * p[0] * p[1]))
        out[k + 1] = p
    return out.tolist()


TRUTH = {"simultaneous": "spirals out", "alternating": "circles"}


def test_dirac_right() -> None:
    r = evaluate("step7.dirac_gan", dirac, lambda: TRUTH)
    assert r.status == "passed", r.message


def test_dirac_written_differently() -> None:
    r = evaluate("step7.dirac_gan", dirac_float32, lambda: dict(TRUTH))
    assert r.status == "passed", r.message


def test_dirac_reference_spirals_and_circles() -> None:
    sim = gan.dirac_gan_reference(1.0, 0.0, 0.1, 1000, True)
    alt = gan.dirac_gan_reference(1.0, 0.0, 0.1, 1000, False)
    assert np.hypot(*sim[-1]) > 2.0
    radius = np.hypot(alt[:, 0], alt[:, 1])
    assert radius.min() > 0.95 and radius.max() < 1.05
    assert np.allclose(sim, dirac(1.0, 0.0, 0.1, 1000, True))


@pytest.mark.parametrize(
    ("slip", "fragment"),
    [
        ("order", "NEW ψ"),
        ("no_sigmoid", "σ(ψθ) is missing"),
        ("half", "value at the equilibrium only"),
        ("chain", "chain rule"),
        ("d_ascent", "discriminator climbed"),
        ("g_descent", "generator descended"),
        ("non_saturating", "non-saturating"),
    ],
)
def test_dirac_slips(slip: str, fragment: str) -> None:
    def wrong(theta: float, psi: float, lr: float, steps: int, simultaneous: bool = True) -> np.ndarray:
        return gan.dirac_gan_reference(theta, psi, lr, steps, simultaneous, slip=slip)

    expect_failed(evaluate("step7.dirac_gan", wrong, lambda: TRUTH), "dirac_gan(", fragment)


def test_dirac_alternating_uses_old_psi() -> None:
    def always_simultaneous(
        theta: float, psi: float, lr: float, steps: int, simultaneous: bool = True
    ) -> Any:
        return dirac(theta, psi, lr, steps, True)

    expect_failed(evaluate("step7.dirac_gan", always_simultaneous, lambda: TRUTH), "OLD ψ")


def test_dirac_missing_start() -> None:
    r = evaluate("step7.dirac_gan", lambda *a, **k: dirac(*a, **k)[1:], lambda: TRUTH)
    expect_failed(r, "row 0")


def test_dirac_transposed() -> None:
    expect_failed(
        evaluate("step7.dirac_gan", lambda *a, **k: dirac(*a, **k).T, lambda: TRUTH), "one row per point"
    )


def test_dirac_columns_swapped() -> None:
    r = evaluate("step7.dirac_gan", lambda *a, **k: dirac(*a, **k)[:, ::-1], lambda: TRUTH)
    expect_failed(r, "columns are swapped")


@pytest.mark.parametrize(
    ("prediction", "fragment"),
    [
        ({"simultaneous": "converges", "alternating": "circles"}, "it spirals out"),
        ({"simultaneous": "spirals out", "alternating": "converges"}, "it circles"),
        ({"simultaneous": "spirals out", "alternating": "spirals out"}, "0.99–1.02"),
        ({"simultaneous": "grows", "alternating": "circles"}, "choose one of"),
        ({"simultaneous": "spirals out"}, "keys"),
    ],
)
def test_dirac_prediction_wrong(prediction: dict[str, str], fragment: str) -> None:
    expect_failed(evaluate("step7.dirac_gan", dirac, lambda: prediction), fragment)


def test_dirac_stub() -> None:
    assert evaluate("step7.dirac_gan", stub, stub).status == "not_attempted"
    assert evaluate("step7.dirac_gan", dirac, stub).status == "not_attempted"


# The notebook, unsolved ---------------------------------------------------------------------


def test_unsolved_notebook_runs_to_the_end() -> None:
    # Run All on a learner's copy: every demo cell is wrapped, so no cell raises. Before, the
    # snapshot cell made one Axes and failed "'Axes' object is not iterable".
    import matplotlib
    import nbformat

    from dl7.authoring import learner_version

    matplotlib.use("Agg")
    notebook = COURSE_ROOT / "notebooks" / "step7" / "04_gan.ipynb"
    cells = learner_version(nbformat.read(notebook, as_version=4)).cells
    namespace: dict[str, Any] = {}
    for cell in cells:
        source = cell.source
        if cell.cell_type != "code" or source.lstrip().startswith("check("):
            continue
        exec(source, namespace)  # raises if a cell that uses an unwritten exercise is not wrapped
    assert "generator" not in namespace and "slow_snapshots" not in namespace
