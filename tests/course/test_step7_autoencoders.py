"""Step 7, notebook 3 checkers: an autoencoder against PCA, Gaussian corruption, a denoiser.

Each passes a right answer and one written differently, and fails the slips beginners make (no
bottleneck, a builder that ignores its code size, an untrained model, a softmax or unbounded
output, noise added in place, the variance for the standard deviation, one noise for all images,
no clipping, one corruption repeated in every copy, a model that copies its noisy input, raw
bases for principal angles, degrees, a flipped or averaged KL, the variance as sigma, numpy
cutting the gradient, a wrong prediction) with a message that names them. Training a real model
takes seconds even on digits, so those tests are marked slow.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

ae = course("step7").autoencoders

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def build(code_size: int, out: str = "sigmoid") -> tuple[Any, Any, Any]:
    import keras
    from keras import layers

    encoder = keras.Sequential(
        [keras.Input((64,)), layers.Dense(128, activation="relu"), layers.Dense(code_size)]
    )
    decoder = keras.Sequential(
        [keras.Input((code_size,)), layers.Dense(128, activation="relu"), layers.Dense(64, activation=out)]
    )
    inputs = keras.Input((64,))
    return encoder, decoder, keras.Model(inputs, decoder(encoder(inputs)))


def pca_pair(k: int) -> tuple[Any, Any]:
    from sklearn.decomposition import PCA

    x_train, _ = ae.digits_flat()
    pca = PCA(n_components=k).fit(x_train)
    return pca.transform, pca.inverse_transform


# The autoencoder ------------------------------------------------------------------------------


@pytest.mark.slow
def test_autoencoder_trained_passes() -> None:
    import keras

    keras.utils.set_random_seed(0)
    encoder, decoder, model = build(8)
    x_train, _ = ae.digits_flat()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    model.fit(x_train, x_train, epochs=30, batch_size=64, verbose=0)
    r = evaluate("step7.autoencoder", build, encoder, decoder)
    assert r.status == "passed", r.message
    assert "PCA with 8 components: 0.02" in r.message


@pytest.mark.slow
def test_autoencoder_convolutional_passes() -> None:
    """Written differently: a convolutional encoder on (8, 8, 1) images, a 6-number code."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    encoder = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(6),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((6,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="sigmoid"),
            layers.Reshape((8, 8, 1)),
        ]
    )
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, decoder(encoder(inputs)))
    x_train, _ = ae.digits_flat()
    images = x_train.reshape(-1, 8, 8, 1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    model.fit(images, images, epochs=40, batch_size=64, verbose=0)
    r = evaluate("step7.autoencoder", build, encoder, decoder)
    assert r.status == "passed", r.message
    assert "code of 6 numbers" in r.message


def test_autoencoder_untrained() -> None:
    import keras

    keras.utils.set_random_seed(0)
    encoder, decoder, _ = build(8)
    expect_failed(
        evaluate("step7.autoencoder", build, encoder, decoder), "needs at most 0.018", "is it trained"
    )


def test_autoencoder_no_bottleneck() -> None:
    expect_failed(
        evaluate("step7.autoencoder", build, lambda x: x, lambda c: c), "64 numbers per image", "at most 8"
    )


def test_autoencoder_softmax_output() -> None:
    import keras

    keras.utils.set_random_seed(0)
    encoder, decoder, _ = build(8, out="softmax")
    expect_failed(evaluate("step7.autoencoder", build, encoder, decoder), "softmax")


def test_autoencoder_pca_is_not_enough() -> None:
    encode, decode = pca_pair(8)
    r = evaluate("step7.autoencoder", build, encode, decode)
    expect_failed(r, "0.0241", "needs at most 0.018")


def test_autoencoder_unbounded_output() -> None:
    encode, decode = pca_pair(8)
    expect_failed(
        evaluate("step7.autoencoder", build, encode, lambda c: 3 * decode(c) - 1), "[0, 1]", "sigmoid"
    )


def test_autoencoder_wrong_decoder_shape() -> None:
    encode, decode = pca_pair(8)
    expect_failed(
        evaluate("step7.autoencoder", build, encode, lambda c: decode(c)[:, :32]), "64 pixels per image"
    )


def test_autoencoder_not_run() -> None:
    assert evaluate("step7.autoencoder", build, None, None).status == "not_attempted"
    assert evaluate("step7.autoencoder", stub, None, None).status == "not_attempted"


def test_pca_reference() -> None:
    assert ae.pca_mse(8) == pytest.approx(0.0241, abs=5e-4)
    assert ae.pca_mse(2) > ae.pca_mse(8) > ae.pca_mse(16)


# Noise --------------------------------------------------------------------------------------


def noise_right(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(x + rng.normal(0.0, sigma, size=x.shape), 0.0, 1.0)


def noise_standard(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Written differently: standard normals scaled, np.minimum/np.maximum, float32."""
    y = np.asarray(x, dtype=np.float32) + sigma * rng.standard_normal(np.shape(x)).astype(np.float32)
    return np.minimum(np.maximum(y, 0.0), 1.0)


def test_noise_right() -> None:
    r = evaluate("step7.add_noise", noise_right)
    assert r.status == "passed", r.message


def test_noise_written_differently() -> None:
    r = evaluate("step7.add_noise", noise_standard)
    assert r.status == "passed", r.message


def test_noise_in_place() -> None:
    def in_place(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        x += rng.normal(0.0, sigma, size=x.shape).astype(x.dtype)
        np.clip(x, 0.0, 1.0, out=x)
        return x

    expect_failed(evaluate("step7.add_noise", in_place), "changed x itself")


def test_noise_variance_for_std() -> None:
    r = evaluate("step7.add_noise", lambda x, s, rng: noise_right(x, s**2, rng))
    expect_failed(r, "standard deviation", "sigma²")


def test_noise_uniform() -> None:
    r = evaluate("step7.add_noise", lambda x, s, rng: np.clip(x + s * rng.random(x.shape), 0, 1))
    expect_failed(r, "rng.normal")


def test_noise_same_for_every_image() -> None:
    r = evaluate("step7.add_noise", lambda x, s, rng: np.clip(x + rng.normal(0, s, size=x.shape[1:]), 0, 1))
    expect_failed(r, "every image got the same noise")


def test_noise_not_clipped() -> None:
    r = evaluate("step7.add_noise", lambda x, s, rng: x + rng.normal(0, s, size=x.shape))
    expect_failed(r, "clip them")


def test_noise_global_random() -> None:
    r = evaluate("step7.add_noise", lambda x, s, rng: np.clip(x + np.random.normal(0, s, size=x.shape), 0, 1))
    expect_failed(r, "rng")


def test_noise_stub() -> None:
    assert evaluate("step7.add_noise", stub).status == "not_attempted"


# Denoising ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_denoiser_trained_passes() -> None:
    import keras

    keras.utils.set_random_seed(0)
    _, _, model = build(32)
    x_train, _ = ae.digits_flat()
    rng = np.random.default_rng(0)
    inputs = np.concatenate([noise_right(x_train, ae.NOISE, rng) for _ in range(5)]).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    model.fit(inputs, np.tile(x_train, (5, 1)), epochs=8, batch_size=64, verbose=0)
    r = evaluate("step7.denoising_autoencoder", model)
    assert r.status == "passed", r.message


def test_denoiser_written_differently_median_filter() -> None:
    """Not a network at all, but a denoiser: a 3×3 median filter... is not good enough, and says so."""
    from scipy.ndimage import median_filter

    def median(x: np.ndarray) -> np.ndarray:
        return median_filter(np.asarray(x).reshape(-1, 8, 8), size=(1, 3, 3)).reshape(len(x), 64)

    r = evaluate("step7.denoising_autoencoder", median)
    assert r.status == "failed"
    assert "from the clean images" in r.message


def test_denoiser_copies_its_input() -> None:
    r = evaluate("step7.denoising_autoencoder", lambda x: np.asarray(x))
    expect_failed(r, "copies whatever it is given", "clean images as targets")


def test_denoiser_untrained() -> None:
    import keras

    keras.utils.set_random_seed(0)
    _, _, model = build(32)
    expect_failed(evaluate("step7.denoising_autoencoder", model), "worse than the noise")


def test_denoiser_not_run() -> None:
    assert evaluate("step7.denoising_autoencoder", None).status == "not_attempted"


def oracle(x: Any) -> np.ndarray:
    """A perfect denoiser of the checker's held-out digits, so that only the pairs are on trial."""
    return ae._split()[1]


def pairs_tile(x: np.ndarray, sigma: float, copies: int, rng: np.random.Generator) -> Any:
    inputs = np.concatenate([noise_right(x, sigma, rng) for _ in range(copies)])
    return inputs, np.tile(x, (copies, 1))


def pairs_loop(x: np.ndarray, sigma: float, copies: int, rng: np.random.Generator) -> Any:
    inputs, targets = [], []
    for _ in range(copies):
        inputs.append(np.clip(x + sigma * rng.standard_normal(x.shape), 0.0, 1.0))
        targets.append(x.copy())
    return np.vstack(inputs), np.vstack(targets)


@pytest.mark.parametrize("pairs", [pairs_tile, pairs_loop])
def test_denoising_pairs_right(pairs: Any) -> None:
    r = evaluate("step7.denoising_autoencoder", oracle, pairs)
    assert r.status == "passed", r.message


def test_denoising_pairs_targets_repeated_not_tiled() -> None:
    # The text used to say "the clean x repeated to match": np.repeat pairs noisy 7s with clean 3s,
    # and the trained model then failed with only "is it trained, with clean images as targets?".
    def repeated(x: np.ndarray, sigma: float, copies: int, rng: np.random.Generator) -> Any:
        inputs = np.concatenate([noise_right(x, sigma, rng) for _ in range(copies)])
        return inputs, np.repeat(x, copies, axis=0)

    r = evaluate("step7.denoising_autoencoder", oracle, repeated)
    expect_failed(r, "sigma=0.0", "row 1 differs", "np.repeat", "np.concatenate([x] * copies)")


def test_denoising_pairs_targets_not_stacked() -> None:
    r = evaluate("step7.denoising_autoencoder", oracle, lambda x, s, c, rng: (pairs_tile(x, s, c, rng)[0], x))
    expect_failed(r, "targets has shape (4, 64); expected (copies · N, 64) = (12, 64)")


def test_denoising_pairs_stub() -> None:
    assert evaluate("step7.denoising_autoencoder", oracle, stub).status == "not_attempted"


def test_corruption_is_what_the_text_says() -> None:
    _, x_test = ae.digits_flat()
    noisy = ae.corrupt(x_test, ae.NOISE, ae.NOISE_SEED)
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert float(np.mean((noisy - x_test) ** 2)) == pytest.approx(0.05, abs=0.005)


# The builder honours its code size --------------------------------------------------------------


def test_autoencoder_builder_ignores_code_size() -> None:
    # The sweep's wrong answer that passed: a fixed Dense(8) code gives a fine 8-number model, but
    # build_autoencoder(2) and build_autoencoder(32) later in the notebook silently build it again.
    encode, decode = pca_pair(8)
    r = evaluate("step7.autoencoder", lambda code_size: build(8), encode, decode)
    expect_failed(r, "build_autoencoder(3)'s encoder gives codes of 8 numbers", "ignores its code_size")


def test_autoencoder_builder_returns_two_models() -> None:
    r = evaluate("step7.autoencoder", lambda k: build(k)[:2], None, None)
    expect_failed(r, "expected (encoder, decoder, autoencoder)")


def test_autoencoder_builder_functional_api_passes_the_builder_part() -> None:
    """Written differently: functional-API models; the builder part passes, then PCA fails the bound."""
    import keras
    from keras import layers

    def functional(code_size: int) -> tuple[Any, Any, Any]:
        x = keras.Input((64,))
        code = layers.Dense(code_size)(layers.Dense(64, activation="relu")(x))
        encoder = keras.Model(x, code)
        c = keras.Input((code_size,))
        decoder = keras.Model(
            c, layers.Dense(64, activation="sigmoid")(layers.Dense(64, activation="relu")(c))
        )
        return encoder, decoder, keras.Model(x, decoder(encoder(x)))

    encode, decode = pca_pair(8)
    expect_failed(evaluate("step7.autoencoder", functional, encode, decode), "needs at most 0.018")


# Principal angles ---------------------------------------------------------------------------


def angles_svd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    return np.arccos(np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0))


def angles_via_svd_bases(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Written differently: orthonormal bases from the SVD's U, float32, angles ascending."""
    ua = np.linalg.svd(a.astype(np.float32), full_matrices=False)[0]
    ub = np.linalg.svd(b.astype(np.float32), full_matrices=False)[0]
    cos = np.linalg.svd(ua.T @ ub, compute_uv=False)
    return np.sort(np.arccos(np.minimum(cos, 1.0)).astype(np.float64))


def test_principal_angles_right() -> None:
    r = evaluate("step7.principal_angles", angles_svd)
    assert r.status == "passed", r.message


def test_principal_angles_scipy_passes() -> None:
    from scipy.linalg import subspace_angles

    r = evaluate("step7.principal_angles", subspace_angles)
    assert r.status == "passed", r.message


def test_principal_angles_written_differently() -> None:
    # float32 rounding puts one subspace in two bases ~4e-4 rad apart (arccos near 1): it passes
    r = evaluate("step7.principal_angles", angles_via_svd_bases)
    assert r.status == "passed", r.message


def test_principal_angles_raw_bases() -> None:
    def raw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.arccos(np.clip(np.linalg.svd(a.T @ b, compute_uv=False), -1.0, 1.0))

    expect_failed(evaluate("step7.principal_angles", raw), "orthonormal", "np.linalg.qr")


def test_principal_angles_degrees() -> None:
    expect_failed(evaluate("step7.principal_angles", lambda a, b: np.degrees(angles_svd(a, b))), "degrees")


def test_principal_angles_cosines() -> None:
    def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.cos(angles_svd(a, b))

    expect_failed(evaluate("step7.principal_angles", cosines), "cosines", "arccos")


def test_principal_angles_not_clipped() -> None:
    def nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.full(a.shape[1], np.nan)

    expect_failed(evaluate("step7.principal_angles", nan), "clip the cosines")


def test_principal_angles_stub() -> None:
    assert evaluate("step7.principal_angles", stub).status == "not_attempted"


# Denoising pairs with noise -------------------------------------------------------------------


def test_denoising_pairs_one_corruption_repeated() -> None:
    def repeated(x: np.ndarray, sigma: float, copies: int, rng: np.random.Generator) -> Any:
        noisy = noise_right(x, sigma, rng)
        return np.tile(noisy, (copies, 1)), np.tile(x, (copies, 1))

    r = evaluate("step7.denoising_autoencoder", oracle, repeated)
    expect_failed(r, "copy 2 of the inputs carries exactly the same noise as copy 1", "once per copy")


def test_denoising_pairs_global_random() -> None:
    def global_random(x: np.ndarray, sigma: float, copies: int, rng: np.random.Generator) -> Any:
        inputs = [np.clip(x + np.random.normal(0, sigma, x.shape), 0, 1) for _ in range(copies)]
        return np.concatenate(inputs), np.tile(x, (copies, 1))

    r = evaluate("step7.denoising_autoencoder", oracle, global_random)
    expect_failed(r, "same seed gave different inputs", "rng passed in")


def test_denoising_pairs_noisy_targets() -> None:
    def noisy_targets(x: np.ndarray, sigma: float, copies: int, rng: np.random.Generator) -> Any:
        inputs = np.concatenate([noise_right(x, sigma, rng) for _ in range(copies)])
        return inputs, inputs

    r = evaluate("step7.denoising_autoencoder", oracle, noisy_targets)
    expect_failed(r, "only the inputs are corrupted")


def test_denoising_pass_message_has_pca_baseline() -> None:
    r = evaluate("step7.denoising_autoencoder", oracle, pairs_tile)
    assert "PCA with 16 components on the same noisy digits: 0.02" in r.message


# The VAE's KL -------------------------------------------------------------------------------


def kl_ops(mu: Any, log_var: Any) -> Any:
    from keras import ops

    return 0.5 * ops.sum(mu**2 + ops.exp(log_var) - 1.0 - log_var, axis=-1)


def reparam_ops(mu: Any, log_var: Any, eps: Any) -> Any:
    from keras import ops

    return mu + ops.exp(0.5 * log_var) * eps


def kl_tf_loop(mu: Any, log_var: Any) -> Any:
    """Written differently: tf ops, -1/2 sum(1 + log σ² - μ² - σ²), as Kingma and Welling write it."""
    import tensorflow as tf

    mu = tf.cast(mu, tf.float32)
    log_var = tf.cast(log_var, tf.float32)
    return -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mu) - tf.exp(log_var), axis=1)


def reparam_sqrt(mu: Any, log_var: Any, eps: Any) -> Any:
    import tensorflow as tf

    return tf.cast(mu, tf.float32) + tf.sqrt(tf.exp(tf.cast(log_var, tf.float32))) * tf.cast(eps, tf.float32)


def test_vae_kl_right() -> None:
    r = evaluate("step7.vae_kl", kl_ops, reparam_ops)
    assert r.status == "passed", r.message
    assert "Monte-Carlo from your reparameterise" in r.message


def test_vae_kl_written_differently() -> None:
    r = evaluate("step7.vae_kl", kl_tf_loop, reparam_sqrt)
    assert r.status == "passed", r.message


def test_vae_kl_sign_flipped() -> None:
    expect_failed(evaluate("step7.vae_kl", lambda m, v: -kl_ops(m, v), reparam_ops), "never negative", "sign")


def test_vae_kl_mean_over_dimensions() -> None:
    from keras import ops

    def mean_kl(mu: Any, log_var: Any) -> Any:
        return 0.5 * ops.mean(mu**2 + ops.exp(log_var) - 1.0 - log_var, axis=-1)

    expect_failed(evaluate("step7.vae_kl", mean_kl, reparam_ops), "divided by 2", "do not average")


def test_vae_kl_no_half() -> None:
    expect_failed(evaluate("step7.vae_kl", lambda m, v: 2 * kl_ops(m, v), reparam_ops), "1/2")


def test_vae_kl_log_sigma_for_log_var() -> None:
    from keras import ops

    def log_sigma(mu: Any, log_var: Any) -> Any:
        return 0.5 * ops.sum(mu**2 + ops.exp(2 * log_var) - 1.0 - 2 * log_var, axis=-1)

    expect_failed(evaluate("step7.vae_kl", log_sigma, reparam_ops), "log of the variance")


def test_vae_kl_summed_over_the_batch() -> None:
    from keras import ops

    def batch_sum(mu: Any, log_var: Any) -> Any:
        return 0.5 * ops.sum(mu**2 + ops.exp(log_var) - 1.0 - log_var, axis=0)

    expect_failed(evaluate("step7.vae_kl", batch_sum, reparam_ops), "shape (2,)", "axis=-1")


def test_vae_reparameterise_variance_as_sigma() -> None:
    from keras import ops

    r = evaluate("step7.vae_kl", kl_ops, lambda m, v, e: m + ops.exp(v) * e)
    expect_failed(r, "exp(log_var), the variance", "exp(log_var / 2)")


def test_vae_reparameterise_numpy_cuts_the_gradient() -> None:
    r = evaluate("step7.vae_kl", kl_ops, lambda m, v, e: m + np.exp(0.5 * np.asarray(v)) * e)
    expect_failed(r, "no gradient reaches log_var", "ops.exp")


def test_vae_kl_numpy_fails_in_the_graph() -> None:
    def kl_numpy(mu: Any, log_var: Any) -> Any:
        return 0.5 * np.sum(np.asarray(mu) ** 2 + np.exp(log_var) - 1.0 - np.asarray(log_var), axis=-1)

    expect_failed(evaluate("step7.vae_kl", kl_numpy, reparam_ops), "tf.function", "keras.ops")


def test_vae_kl_stub() -> None:
    assert evaluate("step7.vae_kl", stub, reparam_ops).status == "not_attempted"


# The grid prediction ------------------------------------------------------------------------

MEASURED = {"ae": 0.00358, "vae": 0.00094}  # the notebook's solved run


def test_grid_prediction_right() -> None:
    r = evaluate("step7.grid_prediction", lambda: "VAE ", MEASURED)
    assert r.status == "passed", r.message
    assert "3.8×" in r.message


def test_grid_prediction_ae() -> None:
    expect_failed(evaluate("step7.grid_prediction", lambda: "ae", MEASURED), "you predicted 'ae'", "gaps")


def test_grid_prediction_same() -> None:
    expect_failed(evaluate("step7.grid_prediction", lambda: "same", MEASURED), "clouds of codes")


def test_grid_prediction_not_a_choice() -> None:
    expect_failed(evaluate("step7.grid_prediction", lambda: 1, MEASURED), "expected one of ae, vae, same")


def test_grid_prediction_follows_the_measurement() -> None:
    r = evaluate("step7.grid_prediction", lambda: "vae", {"ae": 0.001, "vae": 0.0012})
    expect_failed(r, "so 'same'")


def test_grid_prediction_not_measured_or_stub() -> None:
    assert evaluate("step7.grid_prediction", lambda: "vae", None).status == "not_attempted"
    assert evaluate("step7.grid_prediction", stub, MEASURED).status == "not_attempted"
