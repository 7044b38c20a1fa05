"""Step 7, notebook 4 checkers: GAN losses from logits, one alternating update, sample statistics.

Each passes a right answer and one written differently, and fails the slips beginners make
(the saturating generator loss, swapped labels, a sigmoid applied twice, an unstable log, the
wrong variable list, a simultaneous instead of an alternating update, gradient ascent, mode
collapse) with a message that names them.
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
) -> Any:
    def step(gen: Any, disc: Any, g_opt: Any, d_opt: Any, real: Any, z: Any) -> Any:
        with tf.GradientTape(persistent=True) as tape:
            fake = gen(z, training=True)
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


def step_stop_gradient(gen: Any, disc: Any, g_opt: Any, d_opt: Any, real: Any, z: Any) -> Any:
    """Written differently: fakes detached by stop_gradient, Keras 3's optimizer.apply, a tf.function."""
    fake = tf.stop_gradient(gen(z))
    with tf.GradientTape() as tape:
        dl = d_loss_keras(disc(real), disc(fake))
    d_opt.apply(tape.gradient(dl, disc.trainable_variables), disc.trainable_variables)
    with tf.GradientTape() as tape:
        gl = g_loss_keras(disc(gen(z)))
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


def test_step_stub() -> None:
    assert evaluate("step7.gan_train_step", stub).status == "not_attempted"


# Samples ------------------------------------------------------------------------------------


def ring_generator(z: np.ndarray) -> np.ndarray:
    """A perfect sampler of the target, as a function of the noise: mode by angle, offset by z."""
    z = np.asarray(z, dtype=float)
    angle = np.arctan2(z[:, 1], z[:, 0])
    idx = np.floor((angle + np.pi) / (2 * np.pi) * gan.RING_MODES).astype(int) % gan.RING_MODES
    other = np.roll(z, 1, axis=0)[:, :2]  # independent of this row's angle
    return gan.ring_centres()[idx] + gan.RING_STD * other


def test_samples_perfect_generator() -> None:
    r = evaluate("step7.gan_samples", ring_generator, 2)
    assert r.status == "passed", r.message
    assert "8 of 8 modes" in r.message


def test_samples_keras_generator_shape() -> None:
    gen = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    r = evaluate("step7.gan_samples", gen, 3)
    assert r.status == "failed"


def test_samples_collapsed() -> None:
    def collapsed(z: np.ndarray) -> np.ndarray:
        return gan.ring_centres()[0] + gan.RING_STD * np.asarray(z)[:, :2]

    expect_failed(evaluate("step7.gan_samples", collapsed, 2), "1 of 8 modes", "collapsed")


def test_samples_partly_collapsed() -> None:
    def six_modes(z: np.ndarray) -> np.ndarray:
        x = ring_generator(z)
        far = np.linalg.norm(x - gan.ring_centres()[3], axis=1) < 1
        x[far] = ring_generator(z[far] * -1)  # send mode 3's samples to the opposite mode 7
        far7 = np.linalg.norm(x - gan.ring_centres()[5], axis=1) < 1
        x[far7] = gan.ring_centres()[1] + (x[far7] - gan.ring_centres()[5])
        return x

    expect_failed(evaluate("step7.gan_samples", six_modes, 2), "6 of 8 modes")


def test_samples_blur() -> None:
    expect_failed(evaluate("step7.gan_samples", lambda z: np.sqrt(2.0) * np.asarray(z), 2), "spread between")


def test_samples_uniform_ring() -> None:
    def ring(z: np.ndarray) -> np.ndarray:
        angle = np.arctan2(z[:, 1], z[:, 0])
        return 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)

    expect_failed(evaluate("step7.gan_samples", ring, 2), "within 0.3 of a mode")


def test_samples_not_trained() -> None:
    assert evaluate("step7.gan_samples", None, 2).status == "not_attempted"


def test_target_statistics() -> None:
    s = gan.sample_statistics(gan.sample_ring(4000, np.random.default_rng(0)))
    assert s["covered"] == 8 and s["near"] > 0.98
    assert np.allclose(np.diag(s["cov"]), 2.01, atol=0.1)


# The notebook, unsolved ---------------------------------------------------------------------


def test_unsolved_notebook_plots_nothing_instead_of_raising() -> None:
    # Unsolved, the training cell takes the step-0 snapshot before train_step raises; the
    # snapshot cell then made one Axes and failed "'Axes' object is not iterable", an error a
    # learner who had not reached section 5 yet could not have caused.

    import matplotlib
    import nbformat

    from dl7.authoring import learner_version

    matplotlib.use("Agg")
    notebook = COURSE_ROOT / "notebooks" / "step7" / "04_gan.ipynb"
    cells = learner_version(nbformat.read(notebook, as_version=4)).cells
    namespace: dict[str, Any] = {}
    for cell in cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith("check("):
            continue
        try:
            exec(cell.source, namespace)
        except NotImplementedError:
            pass  # an exercise cell, as the learner finds it
        if cell.get("id") == "909a72ed":  # the snapshot plots
            break
    assert namespace["generator"] is None and namespace["snapshots"] == {}
