"""Checkers for step 7's fourth notebook (04_gan): ``step7.gan_losses``,
``step7.gan_train_step`` and ``step7.gan_samples``.

The facts: the losses computed here from logits with a stable softplus, on values worked by hand
and on extreme logits; one alternating update computed here with plain SGD on tiny models whose
weights this module sets, compared weight by weight with the learner's update; and statistics of
the learner's generated samples (mean, covariance, closeness to a mode, modes covered) measured
here against the target distribution, a ring of eight Gaussians. TensorFlow and Keras are
imported inside the checkers only.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

# The target: eight Gaussians evenly spaced on a circle (Metz et al.'s unrolled-GAN toy problem).
RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.1
NEAR = 3 * RING_STD  # a sample within this distance of a centre counts as "on" that mode
SAMPLES = 4000
SAMPLES_SEED = 2024
# Bounds on the learner's samples; the notebook's GAN (seeds 0, 1, 2) and the target itself
# are reported in the issue note.
MAX_MEAN = 0.25  # |mean| per coordinate; the target's is 0
COV_DIAG = (1.5, 2.5)  # the target's variance per coordinate is R²/2 + σ² = 2.01
MAX_COV_OFF = 0.4
MIN_NEAR = 0.6  # fraction of samples within 3σ of a centre; the target: 98.9 %
MIN_MODE_SHARE = 0.015  # every mode must receive this share (a fair share is 12.5 %)


def ring_centres() -> np.ndarray:
    angles = 2 * np.pi * np.arange(RING_MODES) / RING_MODES
    return RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (8, 2)


def sample_ring(n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of the target: a random centre plus Gaussian noise of standard deviation 0.1."""
    return ring_centres()[rng.integers(RING_MODES, size=n)] + RING_STD * rng.normal(size=(n, 2))


def _tf() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    return tf


def softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + exp(a)) without overflow."""
    a = np.asarray(a, dtype=float)
    return np.asarray(np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a))))


def sigmoid(a: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(a, dtype=float))))


def ref_d_loss(real: np.ndarray, fake: np.ndarray) -> float:
    """−mean log σ(real) − mean log(1 − σ(fake))."""
    return float(np.mean(softplus(-real)) + np.mean(softplus(fake)))


def ref_g_loss(fake: np.ndarray) -> float:
    """The non-saturating generator loss: −mean log σ(fake)."""
    return float(np.mean(softplus(-fake)))


# Losses -------------------------------------------------------------------------------------

LOSS_CASES: list[tuple[list[float], list[float], str]] = [
    ([0.0], [0.0], "real logits (0,), fake logits (0,)"),
    ([2.0, -1.0], [0.5, -3.0], "real logits (2, −1), fake logits (0.5, −3)"),
    ([3.0, 0.0, 1.0, -2.0], [-1.0, 2.0, -4.0, 0.0], "real logits (3, 0, 1, −2), fake logits (−1, 2, −4, 0)"),
]
EXTREME = ([1000.0, -1000.0], [1000.0, -1000.0], "real and fake logits (1000, −1000)")


def _scalar(value: Any, what: str) -> float:
    arr = as_array(value, what)
    if arr.size != 1:
        raise CheckFailed(
            f"{what} returned an array of shape {arr.shape}; expected one number: average over the batch"
        )
    return float(arr.reshape(()))


def _g_diagnosis(got: float, fake: np.ndarray) -> str:
    if np.isclose(got, -np.mean(softplus(fake)), atol=1e-4):
        return (
            "that is the saturating loss log(1 − D(G(z))) from the minimax game; its gradient vanishes "
            "when the discriminator wins. Minimise −log D(G(z)) instead"
        )
    if np.isclose(got, np.mean(softplus(fake)), atol=1e-4):
        return (
            "your generator labels its own samples 0 (fake), so it helps the discriminator; "
            "the non-saturating generator labels them 1 (real)"
        )
    if np.isclose(got, -np.mean(softplus(-fake)), atol=1e-4):
        return "the sign is reversed: the loss to minimise is −log D(G(z)), a positive number"
    if np.isclose(got, np.mean(softplus(-sigmoid(fake))), atol=1e-4):
        return "a sigmoid was applied before a loss that expects logits: the inputs are already logits"
    if np.isclose(got, np.sum(softplus(-fake)), atol=1e-4) and len(fake) > 1:
        return "you summed over the batch; take the mean"
    return "expected −mean log σ(fake logit)"


def _d_diagnosis(got: float, real: np.ndarray, fake: np.ndarray) -> str:
    right = ref_d_loss(real, fake)
    if np.isclose(got, float(np.mean(softplus(real)) + np.mean(softplus(-fake))), atol=1e-4):
        return "the labels are swapped: real samples are labelled 1 and generated samples 0"
    if np.isclose(
        got, float(np.mean(softplus(-sigmoid(real))) + np.mean(softplus(sigmoid(fake)))), atol=1e-4
    ):
        return "a sigmoid was applied before a loss that expects logits: the inputs are already logits"
    if np.isclose(got, 0.5 * right, atol=1e-4):
        return "you averaged the two terms; the loss is their sum, the real term plus the fake term"
    if np.isclose(got, -right, atol=1e-4):
        return "the sign is reversed: cross-entropy is −log of the probability of the right label"
    if np.isclose(got, float(np.mean(softplus(-real))), atol=1e-4):
        return "the term for the generated samples, −mean log(1 − σ(fake)), is missing"
    if np.isclose(got, float(np.sum(softplus(-real)) + np.sum(softplus(fake))), atol=1e-4) and len(real) > 1:
        return "you summed over the batch; take the mean"
    return "expected −mean log σ(real) − mean log(1 − σ(fake))"


@checker("step7.gan_losses")
def check_gan_losses(discriminator_loss: Any, generator_loss: Any) -> str:
    expect_callable(discriminator_loss, "discriminator_loss")
    expect_callable(generator_loss, "generator_loss")
    tf = _tf()
    for real_list, fake_list, desc in LOSS_CASES:
        real, fake = np.array(real_list), np.array(fake_list)
        r_t = tf.constant(real[:, None], tf.float32)  # (N, 1), as a Dense(1) discriminator gives
        f_t = tf.constant(fake[:, None], tf.float32)
        got = _scalar(generator_loss(f_t), f"generator_loss with {desc}")
        want = ref_g_loss(fake)
        if not np.isclose(got, want, atol=1e-4):
            raise CheckFailed(
                f"generator_loss with {desc.split(', ')[1]} returned {got:.4f}; expected {want:.4f} — "
                + _g_diagnosis(got, fake)
            )
        got = _scalar(discriminator_loss(r_t, f_t), f"discriminator_loss with {desc}")
        want = ref_d_loss(real, fake)
        if not np.isclose(got, want, atol=1e-4):
            raise CheckFailed(
                f"discriminator_loss with {desc} returned {got:.4f}; expected {want:.4f} — "
                + _d_diagnosis(got, real, fake)
            )
    real, fake = np.array(EXTREME[0]), np.array(EXTREME[1])
    r_t, f_t = tf.constant(real[:, None], tf.float32), tf.constant(fake[:, None], tf.float32)
    stable = (
        "compute from logits with a stable formula (tf.nn.sigmoid_cross_entropy_with_logits, or softplus)"
    )
    for name, fn, args, want, desc in (
        ("generator_loss", generator_loss, (f_t,), ref_g_loss(fake), "fake logits (1000, −1000)"),
        ("discriminator_loss", discriminator_loss, (r_t, f_t), ref_d_loss(real, fake), EXTREME[2]),
    ):
        got = _scalar(fn(*args), f"{name} with {desc}")
        if not np.isfinite(got):
            raise CheckFailed(
                f"{name} with {desc} returned {got}; expected {want:g} — "
                f"σ(−1000) rounds to 0 and log(0) is −inf: {stable}"
            )
        if not np.isclose(got, want, rtol=1e-3):
            raise CheckFailed(
                f"{name} with {desc} returned {got:.4g}; expected {want:g} — "
                f"a clipped probability loses the size of the mistake: {stable}"
            )
    # Gradients must flow: the losses are used inside a GradientTape.
    f_var = tf.Variable(np.array([[0.5], [-3.0]]), dtype=tf.float32)
    r_var = tf.Variable(np.array([[2.0], [-1.0]]), dtype=tf.float32)
    for name, fn, args in (
        ("generator_loss", generator_loss, (f_var,)),
        ("discriminator_loss", discriminator_loss, (r_var, f_var)),
    ):
        with tf.GradientTape() as tape:
            value = fn(*args)
        grad = None
        if tf.is_tensor(value):
            try:
                grad = tape.gradient(value, f_var)
            except (AttributeError, TypeError, ValueError):  # not a tensor the tape recorded
                grad = None
        if grad is None:
            kind = f"{type(value).__module__}.{type(value).__name__}"
            raise CheckFailed(
                f"{name} returned {kind} {_scalar(value, name):.4f}: "
                "the number is right, but GradientTape cannot differentiate it — use TensorFlow operations "
                "(tf.reduce_mean, tf.nn.softplus, ...), not numpy or float(), inside the losses"
            )
    return (
        "both losses match the cross-entropies from logits (log 4 = 1.386 and log 2 = 0.693 at logit 0), "
        "and stay exact at logits ±1000"
    )


# One alternating update ---------------------------------------------------------------------

STEP_LR = 0.1
STEP_BATCH = 6
STEP_NOISE = 3


def _tiny_models(keras: Any, rng: np.random.Generator) -> tuple[Any, Any]:
    gen = keras.Sequential(
        [keras.Input((STEP_NOISE,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(2)],
        name="g",
    )
    disc = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(1)], name="d"
    )
    for model in (gen, disc):
        model.set_weights(
            [rng.normal(scale=0.8, size=w.shape).astype(np.float32) for w in model.get_weights()]
        )
    return gen, disc


def _grads(tf: Any, loss_fn: Any, variables: list[Any]) -> list[np.ndarray]:
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return [np.asarray(g) for g in tape.gradient(loss, variables)]


def _tf_d_loss(tf: Any, r: Any, f: Any) -> Any:
    return tf.reduce_mean(tf.nn.softplus(-r)) + tf.reduce_mean(tf.nn.softplus(f))


def _tf_g_loss(tf: Any, f: Any) -> Any:
    return tf.reduce_mean(tf.nn.softplus(-f))


def _reference_step(
    tf: Any, keras: Any, weights: tuple[list[np.ndarray], list[np.ndarray]], real: Any, z: Any
) -> dict[str, Any]:
    """The right update, and the wrong ones a learner is likely to make, by plain SGD."""
    gen, disc = _tiny_models(keras, np.random.default_rng(0))
    g0, d0 = weights
    gen.set_weights(g0)
    disc.set_weights(d0)
    gv, dv = gen.trainable_variables, disc.trainable_variables

    def d_loss() -> Any:
        return _tf_d_loss(tf, disc(real), disc(gen(z)))

    def g_loss() -> Any:
        return _tf_g_loss(tf, disc(gen(z)))

    out: dict[str, Any] = {"d_loss0": float(d_loss())}
    d_grad_d = _grads(tf, d_loss, dv)
    d_grad_g = _grads(tf, d_loss, gv)  # the generator's share of the discriminator loss: must be unused
    g_grad_simultaneous = _grads(tf, g_loss, gv)  # against the discriminator before its update
    d1 = [w - STEP_LR * g for w, g in zip(d0, d_grad_d, strict=True)]
    disc.set_weights(d1)
    out["g_loss1"] = float(g_loss())
    g_grad = _grads(tf, g_loss, gv)
    d_grad_from_g = _grads(tf, g_loss, dv)  # the discriminator's share of the generator loss: unused
    out["d1"] = d1
    out["g1"] = [w - STEP_LR * g for w, g in zip(g0, g_grad, strict=True)]
    out["g1_ascent"] = [w + STEP_LR * g for w, g in zip(g0, g_grad, strict=True)]
    out["g1_simultaneous"] = [w - STEP_LR * g for w, g in zip(g0, g_grad_simultaneous, strict=True)]
    out["d1_ascent"] = [w + STEP_LR * g for w, g in zip(d0, d_grad_d, strict=True)]
    out["d1_moved_by_g"] = [w - STEP_LR * g for w, g in zip(d1, d_grad_from_g, strict=True)]
    out["g_moved_by_d"] = [w - STEP_LR * g for w, g in zip(g0, d_grad_g, strict=True)]
    return out


def _same(a: list[np.ndarray], b: list[np.ndarray], tol: float = 1e-5) -> bool:
    return all(x.shape == y.shape and np.allclose(x, y, atol=tol) for x, y in zip(a, b, strict=True))


@checker("step7.gan_train_step")
def check_gan_train_step(train_step: Any) -> str:
    expect_callable(train_step, "train_step")
    tf = _tf()
    import keras

    rng = np.random.default_rng(42)
    gen, disc = _tiny_models(keras, rng)
    g0, d0 = gen.get_weights(), disc.get_weights()
    real = tf.constant(sample_ring(STEP_BATCH, rng), tf.float32)  # (6, 2)
    z = tf.constant(rng.normal(size=(STEP_BATCH, STEP_NOISE)), tf.float32)  # (6, 3)
    ref = _reference_step(tf, keras, (g0, d0), real, z)
    g_opt = keras.optimizers.SGD(learning_rate=STEP_LR)
    d_opt = keras.optimizers.SGD(learning_rate=STEP_LR)
    what = (
        "train_step(generator, discriminator, g_optimizer, d_optimizer, real, z) with SGD(0.1) on tiny models"
    )
    out = train_step(gen, disc, g_opt, d_opt, real, z)
    g1, d1 = gen.get_weights(), disc.get_weights()
    if _same(g1, g0, 0.0) and _same(d1, d0, 0.0):
        raise CheckFailed(f"{what} changed no weights: apply the gradients with the optimizers passed in")
    if not _same(d1, ref["d1"]):
        if _same(d1, d0, 0.0):
            why = (
                "the discriminator's weights did not change: apply its gradients with d_optimizer "
                "to discriminator.trainable_variables"
            )
        elif _same(d1, ref["d1_ascent"]):
            why = (
                "the discriminator moved up its loss: apply_gradients already subtracts the gradient, "
                "so pass the gradients themselves"
            )
        elif _same(d1, ref["d1_moved_by_g"]):
            why = (
                "the discriminator was also moved by the generator's loss: in the generator's step take "
                "gradients with respect to generator.trainable_variables only"
            )
        elif _same(d1, g0, 0.0) or any(a.shape != b.shape for a, b in zip(d1, d0, strict=False)):
            why = "the discriminator's weights were replaced: check which variables each optimizer updates"
        else:
            why = (
                "expected one SGD step down the discriminator loss on real and generated samples "
                "(is step7.gan_losses passing?)"
            )
        raise CheckFailed(f"{what}: the discriminator's new weights are wrong — {why}")
    if not _same(g1, ref["g1"]):
        if _same(g1, g0, 0.0):
            why = (
                "the generator's weights did not change: apply its gradients with g_optimizer "
                "to generator.trainable_variables"
            )
        elif _same(g1, ref["g1_simultaneous"]):
            why = (
                "the generator was updated against the discriminator as it was before its update; "
                "in an alternating step, compute the generator's loss after the discriminator's update"
            )
        elif _same(g1, ref["g1_ascent"]):
            why = (
                "the generator moved up its loss (gradient ascent): the non-saturating loss is minimised; "
                "apply_gradients subtracts the gradient by itself"
            )
        elif not _same(g1, ref["g1"], 1e-2) and _moved_like(g0, g1, ref["g_moved_by_d"]):
            why = (
                "the generator was also moved by the discriminator's loss: in the discriminator's step take "
                "gradients with respect to discriminator.trainable_variables only"
            )
        else:
            why = (
                "expected one SGD step down the non-saturating generator loss against the updated "
                "discriminator (is step7.gan_losses passing?)"
            )
        raise CheckFailed(f"{what}: the generator's new weights are wrong — {why}")
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} returned {type(out).__name__}; expected the two losses (d_loss, g_loss)")
    d_loss, g_loss = _scalar(out[0], "the returned d_loss"), _scalar(out[1], "the returned g_loss")
    if not np.isclose(d_loss, ref["d_loss0"], atol=1e-4):
        raise CheckFailed(
            f"{what} returned d_loss = {d_loss:.4f}; expected {ref['d_loss0']:.4f}, "
            "the discriminator's loss before its update"
        )
    if not np.isclose(g_loss, ref["g_loss1"], atol=1e-4):
        raise CheckFailed(
            f"{what} returned g_loss = {g_loss:.4f}; expected {ref['g_loss1']:.4f}, "
            "the generator's loss against the updated discriminator"
        )
    return (
        "one alternating step: the discriminator moved down its loss with its own variables only, "
        "then the generator down the non-saturating loss against the updated discriminator"
    )


def _moved_like(g0: list[np.ndarray], g1: list[np.ndarray], wrong: list[np.ndarray]) -> bool:
    """Did the generator move in the direction the discriminator loss would push it?"""
    moved = np.concatenate([(b - a).ravel() for a, b in zip(g0, g1, strict=True)])
    push = np.concatenate([(b - a).ravel() for a, b in zip(g0, wrong, strict=True)])
    if not np.any(push):
        return False
    return bool(float(moved @ push) / (np.linalg.norm(moved) * np.linalg.norm(push) + 1e-12) > 0.1)


# Samples ------------------------------------------------------------------------------------


def sample_statistics(x: np.ndarray) -> dict[str, Any]:
    """Mean, covariance, share of samples near a mode, and each mode's share."""
    centres = ring_centres()
    dist = np.linalg.norm(x[:, None, :] - centres[None], axis=2)  # (N, 8)
    near = dist.min(axis=1) < NEAR
    shares = np.bincount(dist.argmin(axis=1)[near], minlength=RING_MODES) / len(x)
    return {
        "mean": x.mean(axis=0),
        "cov": np.cov(x.T),
        "near": float(near.mean()),
        "shares": shares,
        "covered": int(np.sum(shares >= MIN_MODE_SHARE)),
    }


@checker("step7.gan_samples")
def check_gan_samples(generator: Any, noise_dim: int) -> str:
    if generator is None:  # the training cell could not run: the exercises above are not done yet
        raise NotImplementedError
    expect_callable(generator, "generator")
    rng = np.random.default_rng(SAMPLES_SEED)
    z = rng.normal(size=(SAMPLES, int(noise_dim))).astype(np.float32)
    x = as_array(generator(z), f"generator(z) for z of shape {z.shape}")
    if x.shape != (SAMPLES, 2):
        raise CheckFailed(
            f"generator(z) for z of shape {z.shape} returned shape {x.shape}; expected ({SAMPLES}, 2)"
        )
    if not np.all(np.isfinite(x)):
        raise CheckFailed("the generator's samples contain nan or inf: training diverged")
    s = sample_statistics(x)
    m, c = s["mean"], s["cov"]
    summary = (
        f"mean ({m[0]:.2f}, {m[1]:.2f}), variances {c[0, 0]:.2f} and {c[1, 1]:.2f} (target 2.01), "
        f"{s['near']:.0%} of samples within {NEAR:g} of a mode, {s['covered']} of {RING_MODES} modes covered"
    )
    where = f"on {SAMPLES} samples the checker drew from your generator: {summary}"
    shares = ", ".join(f"{v:.0%}" for v in s["shares"])
    if s["near"] < MIN_NEAR:
        raise CheckFailed(
            f"{where}; needs {MIN_NEAR:.0%} near a mode — the samples are spread between the modes: "
            "the generator has not learned the target's shape yet"
        )
    if s["covered"] < RING_MODES:
        raise CheckFailed(
            f"{where}. Mode shares: {shares} (each needs {MIN_MODE_SHARE:.1%}) — the generator "
            "collapsed onto some modes: check the losses and the order of the two updates"
        )
    if np.any(np.abs(m) > MAX_MEAN):
        raise CheckFailed(f"{where}; the mean must be within {MAX_MEAN} of (0, 0) in each coordinate")
    if not (COV_DIAG[0] <= c[0, 0] <= COV_DIAG[1] and COV_DIAG[0] <= c[1, 1] <= COV_DIAG[1]):
        raise CheckFailed(f"{where}; each variance must lie in {COV_DIAG}")
    if abs(c[0, 1]) > MAX_COV_OFF:
        raise CheckFailed(f"{where}; the covariance {c[0, 1]:.2f} must be within ±{MAX_COV_OFF}")
    return f"{where}; smallest mode share {s['shares'].min():.1%}"
