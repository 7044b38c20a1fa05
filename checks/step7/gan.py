"""Checkers for step 7's fourth notebook (04_gan): ``step7.gan_losses``,
``step7.gan_saturation``, ``step7.optimal_discriminator``, ``step7.gan_train_step`` and
``step7.dirac_gan``.

The facts: the losses computed here from logits with a stable softplus, on values worked by hand
and on extreme logits; the derivatives of the two generator losses with respect to the logit;
the optimal discriminator p_data / (p_data + p_g) of Goodfellow et al.'s Proposition 1; one
alternating update computed here with plain SGD on tiny models whose weights this module sets,
compared weight by weight with the learner's update; and the Dirac-GAN of Mescheder, Geiger and
Nowozin (2018), iterated here in numpy. TensorFlow and Keras are imported inside the checkers
only.
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


def _tf_g_loss_saturating(tf: Any, f: Any) -> Any:
    """The minimax game's generator loss, mean log(1 − σ(f)), as the notebook's section 8 uses it."""
    return -tf.reduce_mean(tf.nn.softplus(f))


def _reference_step(
    tf: Any,
    keras: Any,
    weights: tuple[list[np.ndarray], list[np.ndarray]],
    real: Any,
    z: Any,
    g_loss_fn: Any = None,
) -> dict[str, Any]:
    """The right update, and the wrong ones a learner is likely to make, by plain SGD."""
    g_loss_fn = g_loss_fn or _tf_g_loss
    gen, disc = _tiny_models(keras, np.random.default_rng(0))
    g0, d0 = weights
    gen.set_weights(g0)
    disc.set_weights(d0)
    gv, dv = gen.trainable_variables, disc.trainable_variables

    def d_loss() -> Any:
        return _tf_d_loss(tf, disc(real), disc(gen(z)))

    def d_loss_swapped() -> Any:  # real labelled 0, generated 1
        return _tf_d_loss(tf, disc(gen(z)), disc(real))

    def g_loss() -> Any:
        return g_loss_fn(tf, disc(gen(z)))

    out: dict[str, Any] = {"d_loss0": float(d_loss())}
    d_grad_d = _grads(tf, d_loss, dv)
    out["d1_swapped"] = [w - STEP_LR * g for w, g in zip(d0, _grads(tf, d_loss_swapped, dv), strict=True)]
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
        elif _same(d1, ref["d1_swapped"]):
            why = (
                "the real and generated labels are swapped: the discriminator was taught to call the "
                "generated samples real and the real ones fake. Pass the logits on real first: "
                "discriminator_loss(discriminator(real), discriminator(generator(z)))"
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
                "expected one SGD step down discriminator_loss(logits on real, logits on generator(z)), "
                "with the gradient of that loss taken with respect to discriminator.trainable_variables"
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
                "expected one SGD step down g_loss(discriminator(generator(z))) against the updated "
                "discriminator, with respect to generator.trainable_variables"
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
    _check_g_loss_argument(tf, keras, train_step)
    return (
        "one alternating step: the discriminator moved down its loss with its own variables only, "
        "then the generator down its loss against the updated discriminator; g_loss is used when given"
    )


def _check_g_loss_argument(tf: Any, keras: Any, train_step: Any) -> None:
    """Section 8 passes the saturating loss as g_loss: the step must use the loss it is given."""
    rng = np.random.default_rng(43)
    gen, disc = _tiny_models(keras, rng)
    g0, d0 = gen.get_weights(), disc.get_weights()
    real = tf.constant(sample_ring(STEP_BATCH, rng), tf.float32)
    z = tf.constant(rng.normal(size=(STEP_BATCH, STEP_NOISE)), tf.float32)
    ref = _reference_step(tf, keras, (g0, d0), real, z, _tf_g_loss_saturating)
    what = "train_step(..., g_loss=saturating) with g_loss(f) = mean log(1 − σ(f))"
    try:
        train_step(
            gen,
            disc,
            keras.optimizers.SGD(learning_rate=STEP_LR),
            keras.optimizers.SGD(learning_rate=STEP_LR),
            real,
            z,
            g_loss=lambda f: _tf_g_loss_saturating(tf, f),
        )
    except TypeError as exc:
        if "g_loss" not in str(exc):
            raise
        raise CheckFailed(
            f"train_step takes no g_loss argument ({exc}): keep the parameter g_loss=generator_loss "
            "and compute the generator's loss with g_loss(...)"
        ) from None
    g1 = gen.get_weights()
    if _same(g1, ref["g1"]):
        return
    if _same(g1, _reference_step(tf, keras, (g0, d0), real, z)["g1"]):
        why = (
            "the generator was trained with generator_loss although g_loss was passed: "
            "compute the generator's loss with g_loss(...), the parameter"
        )
    else:
        why = "expected one SGD step down g_loss against the updated discriminator"
    raise CheckFailed(f"{what}: the generator's new weights are wrong — {why}")


def _moved_like(g0: list[np.ndarray], g1: list[np.ndarray], wrong: list[np.ndarray]) -> bool:
    """Did the generator move in the direction the discriminator loss would push it?"""
    moved = np.concatenate([(b - a).ravel() for a, b in zip(g0, g1, strict=True)])
    push = np.concatenate([(b - a).ravel() for a, b in zip(g0, wrong, strict=True)])
    if not np.any(push):
        return False
    return bool(float(moved @ push) / (np.linalg.norm(moved) * np.linalg.norm(push) + 1e-12) > 0.1)


# Predictions: the saturating loss and the optimal discriminator ------------------------------


def _number(value: Any, what: str) -> float:
    if callable(value):  # the notebook passes its prediction as a function: a stub is "not done yet"
        value = value()
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise CheckFailed(f"{what} returned {value!r}; expected one number")
    return float(value)


SATURATION_P = 0.01  # σ(f), the discriminator's belief that a generated sample is real
SATURATION_RATIO = (1 - SATURATION_P) / SATURATION_P  # |d(−log σ(f))/df| / |d log(1 − σ(f))/df| = 99


@checker("step7.gan_saturation")
def check_gan_saturation(saturation_ratio: Any) -> str:
    value = _number(saturation_ratio, "saturation_ratio()")
    if np.isclose(value, SATURATION_RATIO, rtol=0.01):
        return (
            f"{SATURATION_RATIO:g}: d/df of −log σ(f) is −(1 − σ(f)) = −0.99, of log(1 − σ(f)) it is "
            "−σ(f) = −0.01; where the discriminator wins, the saturating loss barely moves the generator"
        )
    p = SATURATION_P
    causes = [
        (1 / SATURATION_RATIO, "that is the inverse: the non-saturating gradient is the larger one"),
        (1 / p, "1/σ(f) is the ratio of the losses' slopes in σ(f), not in the logit f"),
        ((1 - p) / p**2, "that is the ratio of the slopes with respect to σ(f); the question is about f"),
        (-np.log(p) / -np.log(1 - p), "that is the ratio of the loss values, not of their gradients"),
        (1.0, "the two gradients are not the same size: look at the right-hand plot at σ(f) = 0.01"),
    ]
    cause = next((why for v, why in causes if np.isclose(value, v, rtol=0.01)), "")
    raise CheckFailed(
        f"saturation_ratio() is {value:g}; at σ(f) = {p}, |d(−log σ(f))/df| / |d log(1 − σ(f))/df| "
        f"= (1 − σ(f)) / σ(f) = {SATURATION_RATIO:g}" + (f" — {cause}" if cause else "")
    )


D_STAR_RATIO = 3.0  # p_data(x) = 3 p_g(x)


@checker("step7.optimal_discriminator")
def check_optimal_discriminator(d_star: Any) -> str:
    if callable(d_star):
        d_star = d_star()
    if not isinstance(d_star, dict) or set(d_star) != {"probability", "logit"}:
        raise CheckFailed(
            f"d_star() should return a dict with the keys 'logit' and 'probability'; got {d_star!r}"
        )
    r = D_STAR_RATIO
    prob = _number(d_star["probability"], "d_star()['probability']")
    logit = _number(d_star["logit"], "d_star()['logit']")
    want_p, want_logit = r / (1 + r), float(np.log(r))
    if not np.isclose(prob, want_p, atol=1e-3):
        causes = [
            (r, "that is the density ratio itself; a probability lies in [0, 1]"),
            (1 / (1 + r), "that is p_g / (p_data + p_g): σ(D(x)) is the belief that x is REAL"),
            (0.5, "½ is the optimum only where the two densities are equal"),
            (1.0, "a discriminator that is sure is not optimal where the generator also puts mass"),
        ]
        cause = next((why for v, why in causes if np.isclose(prob, v, atol=1e-3)), "")
        raise CheckFailed(
            f"d_star()['probability'] is {prob:g}; where p_data(x) = {r:g} p_g(x) the best discriminator "
            "is not that" + (f" — {cause}" if cause else " — maximise p_data log y + p_g log(1 − y) over y")
        )
    if not np.isclose(logit, want_logit, atol=1e-3):
        causes = [
            (want_p, "that is the probability again; the logit is the a with σ(a) = that probability"),
            (r, "close: the logit is the LOG of the density ratio"),
            (-want_logit, "the sign is reversed: log(p_data / p_g), positive where data is more likely"),
            (float(np.log10(r)), "that is log10; a logit uses the natural log"),
        ]
        cause = next((why for v, why in causes if np.isclose(logit, v, atol=1e-3)), "")
        raise CheckFailed(
            f"d_star()['logit'] is {logit:g}, but σ of it is {1 / (1 + np.exp(-logit)):.4f}, not "
            f"{want_p:g}" + (f" — {cause}" if cause else "")
        )
    return (
        f"σ(D*(x)) = p_data / (p_data + p_g) = {want_p:g} and D*(x) = log(p_data / p_g) = {want_logit:.4f}: "
        "the optimal discriminator's logit is the log density ratio"
    )


# The Dirac-GAN ------------------------------------------------------------------------------


def dirac_gan_reference(
    theta: float, psi: float, lr: float, steps: int, simultaneous: bool = True, *, slip: str = ""
) -> np.ndarray:
    """Gradient steps on the minimax game L_D = log 2 + softplus(ψθ): D descends it in ψ, the
    generator climbs it in θ; simultaneous or alternating (the discriminator first). ``slip``
    makes a known wrong version, to name a learner's mistake."""
    path = [(theta, psi)]
    for _ in range(steps):
        s = float(sigmoid(np.array(psi * theta)))
        if slip == "no_sigmoid":
            s = 1.0
        elif slip == "half":
            s = 0.5
        g_psi = (psi if slip == "chain" else theta) * s  # dL_D/dψ = θ σ(ψθ)
        new_psi = psi - lr * g_psi
        if slip == "d_ascent":
            new_psi = psi + lr * g_psi
        use_psi = new_psi if (not simultaneous) != (slip == "order") else psi
        s_g = float(sigmoid(np.array(use_psi * theta)))
        if slip == "no_sigmoid":
            s_g = 1.0
        elif slip == "half":
            s_g = 0.5
        elif slip == "non_saturating":
            s_g = float(sigmoid(np.array(-use_psi * theta)))
        g_theta = (theta if slip == "chain" else use_psi) * s_g  # dL_D/dθ = ψ σ(ψθ)
        theta = theta - lr * g_theta if slip == "g_descent" else theta + lr * g_theta
        psi = new_psi
        path.append((theta, psi))
    return np.array(path)  # (steps + 1, 2)


DIRAC_SLIPS = {
    "order": "",  # filled in by the message: it depends on which scheme was asked for
    "no_sigmoid": "σ(ψθ) is missing: d softplus(a)/da = σ(a), so dL_D/dψ = θ σ(ψθ)",
    "half": (
        "you used σ(ψθ) = ½, its value at the equilibrium only; recompute σ(ψθ) at every step from the "
        "current θ and ψ"
    ),
    "chain": "the chain rule: d softplus(ψθ)/dψ = θ σ(ψθ) and d/dθ = ψ σ(ψθ), not the other way round",
    "d_ascent": "the discriminator climbed its loss: ψ moves against dL_D/dψ, ψ − lr·θ σ(ψθ)",
    "g_descent": (
        "the generator descended L_D; in this minimax game it maximises the discriminator's loss, "
        "θ + lr·ψ σ(ψθ)"
    ),
    "non_saturating": (
        "that is the non-saturating generator, with σ(−ψθ); this exercise plays the original minimax "
        "game, where the generator climbs L_D itself"
    ),
}
DIRAC_RTOL, DIRAC_ATOL = 1e-4, 1e-6  # float32 answers pass; every known slip differs by far more
DIRAC_CHOICES = ("converges", "circles", "spirals out")
DIRAC_TRUTH = {"simultaneous": "spirals out", "alternating": "circles"}


def _dirac_case(dirac_gan: Any, theta: float, psi: float, lr: float, steps: int, simultaneous: bool) -> None:
    scheme = "simultaneous" if simultaneous else "alternating"
    what = f"dirac_gan({theta}, {psi}, lr={lr}, steps={steps}, simultaneous={simultaneous})"
    got = as_array(dirac_gan(theta, psi, lr, steps, simultaneous=simultaneous), what)
    want = dirac_gan_reference(theta, psi, lr, steps, simultaneous)
    if got.shape != want.shape:
        if got.shape == (steps, 2):
            why = "the start (θ, ψ) belongs in row 0, then one row after each step"
        elif got.shape == (2, steps + 1):
            why = "one row per point: shape (steps + 1, 2), columns θ and ψ"
        else:
            why = "the start, then one row (θ, ψ) after each step"
        raise CheckFailed(f"{what} returned shape {got.shape}; expected {want.shape} — {why}")
    if np.allclose(got, want, atol=DIRAC_ATOL, rtol=DIRAC_RTOL):  # float32 answers pass too
        return
    row = int(np.argmax(np.any(~np.isclose(got, want, atol=DIRAC_ATOL, rtol=DIRAC_RTOL), axis=1)))
    why = ""
    for slip, text in DIRAC_SLIPS.items():
        slipped = dirac_gan_reference(theta, psi, lr, steps, simultaneous, slip=slip)
        if np.allclose(got, slipped, atol=DIRAC_ATOL, rtol=DIRAC_RTOL):
            if slip == "order":
                text = (
                    "the generator used the discriminator's NEW ψ: in a simultaneous step both gradients "
                    "are taken at the old (θ, ψ)"
                    if simultaneous
                    else "the generator used the OLD ψ: alternating means the discriminator steps first, "
                    "then the generator's gradient is taken at the new ψ"
                )
            why = text
            break
    if not why and np.allclose(got[::-1], want, atol=DIRAC_ATOL, rtol=DIRAC_RTOL):
        why = "the rows run backwards: the start first"
    if not why and np.allclose(got[:, ::-1], want, atol=DIRAC_ATOL, rtol=DIRAC_RTOL):
        why = "the columns are swapped: θ first, then ψ"
    raise CheckFailed(
        f"{what} ({scheme}): row {row} is ({got[row, 0]:.6f}, {got[row, 1]:.6f}), expected "
        f"({want[row, 0]:.6f}, {want[row, 1]:.6f})"
        + (
            f" — {why}"
            if why
            else " — ψ ← ψ − lr·dL_D/dψ, θ ← θ + lr·dL_D/dθ, with L_D = log 2 + softplus(ψθ)"
        )
    )


@checker("step7.dirac_gan")
def check_dirac_gan(dirac_gan: Any, dirac_prediction: Any) -> str:
    expect_callable(dirac_gan, "dirac_gan")
    for args in (
        (1.0, 0.0, 0.1, 3, True),
        (1.0, 0.0, 0.1, 3, False),
        (0.5, -0.3, 0.3, 6, True),
        (-0.8, 0.6, 0.25, 5, False),
        (2.0, 1.5, 0.5, 8, True),
    ):
        _dirac_case(dirac_gan, *args)
    if callable(dirac_prediction):
        dirac_prediction = dirac_prediction()
    if not isinstance(dirac_prediction, dict) or set(dirac_prediction) != set(DIRAC_TRUTH):
        raise CheckFailed(
            "dirac_prediction() should return a dict with the keys 'simultaneous' and 'alternating'; "
            f"got {dirac_prediction!r}"
        )
    for scheme, truth in DIRAC_TRUTH.items():
        said = dirac_prediction[scheme]
        if said not in DIRAC_CHOICES:
            raise CheckFailed(
                f"dirac_prediction()[{scheme!r}] is {said!r}; choose one of "
                + ", ".join(map(repr, DIRAC_CHOICES))
            )
        if said != truth:
            path = dirac_gan_reference(1.0, 0.0, 0.1, 1000, scheme == "simultaneous")
            radius = np.hypot(path[:, 0], path[:, 1])
            raise CheckFailed(
                f"dirac_prediction()[{scheme!r}] is {said!r}, but from (θ, ψ) = (1, 0) with lr = 0.1 the "
                f"{scheme} steps end at distance {radius[-1]:.2f} from the equilibrium after 1000 steps, "
                f"having ranged over {radius.min():.2f}–{radius.max():.2f}: it {truth}"
            )
    return (
        "the Dirac-GAN's simultaneous and alternating steps are right, and so are both predictions: "
        "simultaneous steps spiral out, alternating ones circle, neither converges"
    )
