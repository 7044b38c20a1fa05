"""Checkers for step 7's third notebook (03_autoencoders): ``step7.autoencoder``,
``step7.principal_angles``, ``step7.add_noise``, ``step7.denoising_autoencoder``,
``step7.vae_kl`` and ``step7.grid_prediction``.

The facts: reconstruction errors this module measures itself on the fixed held-out split of
scikit-learn's digits (pixels in [0, 1]), against stated bounds and against PCA with the same
code size, which it fits itself on the training split; the shapes of models it builds with the
learner's builder at code sizes of its own; statistics of the learner's noise on inputs made
here; principal angles against SciPy's; the Gaussian KL against its closed form and a
Monte-Carlo estimate. Keras, TensorFlow, SciPy and scikit-learn are imported inside the
checkers only.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

PIXELS = 64
MAX_CODE = 8  # the bottleneck: at most 8 numbers for 64 pixels
BUILD_SIZES = (3, 5)  # code sizes the checker builds with: neither is the notebook's 8
AE_MAX_MSE = 0.018  # the notebook's autoencoder: 0.012-0.014 (seeds 0, 1, 2); PCA with 8 components: 0.0241
NOISE = 0.3  # the standard deviation of the Gaussian corruption, before clipping
NOISE_SEED = 77
DAE_MAX_MSE = 0.025  # noisy inputs themselves: 0.050; the notebook's model: about 0.018
PCA_KS = (4, 8, 12, 16, 24, 32)  # PCA's denoising baseline: k chosen among these on training noise


@functools.lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray]:
    from dl7 import datasets

    split = datasets.load("digits").split()
    x_train = split.x_train.reshape(len(split.x_train), PIXELS).astype(np.float32)  # (1438, 64)
    x_test = split.x_test.reshape(len(split.x_test), PIXELS).astype(np.float32)  # (359, 64)
    return x_train, x_test


def digits_flat() -> tuple[np.ndarray, np.ndarray]:
    """Copies of the fixed split as flat vectors in [0, 1]: (1438, 64) training, (359, 64) held out."""
    x_train, x_test = _split()
    return x_train.copy(), x_test.copy()


def pca_mse(k: int) -> float:
    """Held-out reconstruction error of PCA with ``k`` components fitted on the training split."""
    from sklearn.decomposition import PCA

    x_train, x_test = _split()
    pca = PCA(n_components=k).fit(x_train)
    return float(np.mean((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2))


def corrupt(x: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """The checker's own corruption: Gaussian noise, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(x + rng.normal(0.0, sigma, size=x.shape), 0.0, 1.0).astype(np.float32)


def _apply(model: Any, x: np.ndarray, what: str) -> np.ndarray:
    """``model`` on flat images (N, 64), or on (N, 8, 8, 1) images for a convolutional model."""
    try:
        out = model(x)
    except Exception:
        try:
            out = model(x.reshape(len(x), 8, 8, 1))
        except Exception as exc:
            raise CheckFailed(
                f"{what} could not take the held-out digits, of shape {x.shape} or {(len(x), 8, 8, 1)} "
                f"({type(exc).__name__}: {exc})"
            ) from None
    return as_array(out, what)


def _reconstruct(encoder: Any, decoder: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    code = _apply(encoder, x, "encoder")
    code = code.reshape(len(x), -1)
    try:
        out = as_array(decoder(code), "decoder")
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(
            f"decoder could not take the encoder's codes of shape {code.shape} ({type(exc).__name__}: {exc})"
        ) from None
    if out.size != x.size:
        raise CheckFailed(
            f"decoder returned shape {out.shape} for {len(x)} codes; expected {x.shape}: 64 pixels per image"
        )
    return code, out.reshape(x.shape)


def _shape_of_output(recon: np.ndarray, x: np.ndarray) -> str:
    """A likely cause when the reconstructions are far off."""
    if np.allclose(recon.sum(axis=1), 1.0, atol=1e-3):
        return "every reconstruction sums to 1: the decoder ends in a softmax; use a sigmoid for pixels"
    if recon.min() < -0.05 or recon.max() > 1.05:
        return (
            f"reconstructions range over [{recon.min():.2f}, {recon.max():.2f}]; pixels lie in [0, 1]: "
            "end the decoder with a sigmoid"
        )
    if np.allclose(recon, recon[:1], atol=1e-3):
        return "every image is reconstructed the same: is the model trained, on inputs x and targets x?"
    return "is it trained (run the training cell), on inputs x and targets x?"


def _check_builder(build_autoencoder: Any) -> None:
    """The builder honours its code_size: the notebook builds with 8, 32 and 2."""
    expect_callable(build_autoencoder, "build_autoencoder")
    _, x_test = _split()
    x = x_test[:4]
    for k in BUILD_SIZES:
        what = f"build_autoencoder({k})"
        out = build_autoencoder(k)
        if not isinstance(out, tuple | list) or len(out) != 3:
            raise CheckFailed(
                f"{what} returned {type(out).__name__}; expected (encoder, decoder, autoencoder)"
            )
        encoder, decoder, autoencoder = out
        code = _apply(encoder, x, f"{what}'s encoder").reshape(len(x), -1)
        if code.shape[1] != k:
            raise CheckFailed(
                f"{what}'s encoder gives codes of {code.shape[1]} numbers per image; expected {k}: "
                "the builder ignores its code_size argument — end the encoder with Dense(code_size) "
                "and start the decoder with keras.Input((code_size,)), not a fixed number"
            )
        try:
            out_img = as_array(decoder(np.zeros((len(x), k), dtype=np.float32)), f"{what}'s decoder")
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(
                f"{what}'s decoder could not take codes of shape {(len(x), k)} "
                f"({type(exc).__name__}: {exc}); "
                "its input must be code_size numbers"
            ) from None
        if out_img.size != x.size:
            raise CheckFailed(
                f"{what}'s decoder returned shape {out_img.shape} for {len(x)} codes; expected {x.shape}"
            )
        whole = _apply(autoencoder, x, f"{what}'s autoencoder")
        if whole.size != x.size:
            raise CheckFailed(f"{what}'s autoencoder returned shape {whole.shape}; expected {x.shape}")


@checker("step7.autoencoder")
def check_autoencoder(build_autoencoder: Any, encoder: Any = None, decoder: Any = None) -> str:
    _check_builder(build_autoencoder)  # a stub raises NotImplementedError here: not attempted
    if encoder is None or decoder is None:  # the training cell could not run
        raise NotImplementedError
    expect_callable(encoder, "encoder")
    expect_callable(decoder, "decoder")
    _, x_test = _split()
    code, recon = _reconstruct(encoder, decoder, x_test)
    k = code.shape[1]
    if k > MAX_CODE:
        raise CheckFailed(
            f"the encoder's code has {k} numbers per image; at most {MAX_CODE}: an autoencoder learns "
            "something only when its code is narrower than its input (with 64 it can copy the pixels)"
        )
    mse = float(np.mean((recon - x_test) ** 2))
    pca = pca_mse(k)
    where = f"held-out reconstruction error (MSE) {mse:.4f} on the {len(x_test)} held-out digits"
    if not np.isfinite(mse) or mse > max(AE_MAX_MSE, pca):
        raise CheckFailed(
            f"{where}, with a code of {k}; needs at most {AE_MAX_MSE} (PCA with {k} components: {pca:.4f}) — "
            + _shape_of_output(recon, x_test)
        )
    if mse > AE_MAX_MSE:
        raise CheckFailed(
            f"{where}, with a code of {k}; better than PCA with {k} components ({pca:.4f}) "
            f"but it needs at most {AE_MAX_MSE} — train longer, or give the encoder and decoder "
            "a hidden layer each"
        )
    return (
        f"{where} (measured by the checker), with a code of {k} numbers; "
        f"PCA with {k} components: {pca:.4f}; bound {AE_MAX_MSE}"
    )


# Noise --------------------------------------------------------------------------------------


@checker("step7.add_noise")
def check_add_noise(add_noise: Any) -> str:
    expect_callable(add_noise, "add_noise")
    sigma = 0.1
    x = np.full((1000, PIXELS), 0.5, dtype=np.float32)  # far from 0 and 1: clipping never bites
    before = x.copy()
    what = f"add_noise(x, {sigma}, rng) on 1000 images whose pixels are all 0.5"
    out = add_noise(x, sigma, np.random.default_rng(0))
    if not np.array_equal(x, before):
        raise CheckFailed(f"{what} changed x itself; return a new array (x + noise, not x += noise)")
    y = as_array(out, what)
    if y.shape != x.shape:
        raise CheckFailed(f"{what} returned shape {y.shape}; expected {x.shape}")
    noise = y - x
    mean, std = float(noise.mean()), float(noise.std())
    if np.allclose(noise, 0.0):
        raise CheckFailed(f"{what} returned x unchanged; add Gaussian noise")
    if np.allclose(noise, noise[:1]):
        raise CheckFailed(
            f"{what}: every image got the same noise; draw independent noise for every pixel of every image "
            "(size=x.shape)"
        )
    if abs(mean) > 0.005:
        raise CheckFailed(
            f"{what}: the noise has mean {mean:.4f}; expected 0 — "
            + (
                "uniform noise from rng.random() is never negative: use rng.normal"
                if mean > 0.03
                else "centre it"
            )
        )
    if not 0.95 * sigma <= std <= 1.05 * sigma:
        why = f"expected {sigma} (the standard deviation sigma)"
        if abs(std - sigma**2) < 0.1 * sigma**2:
            why = f"that is sigma² = {sigma**2:g}: sigma is the standard deviation, rng.normal(0, sigma, ...)"
        elif abs(std - 0.2887 * sigma) < 0.05 * sigma or abs(std - 0.2887 * 2 * sigma) < 0.1 * sigma:
            why = f"expected {sigma}: uniform noise has the wrong spread; draw Gaussian noise with rng.normal"
        raise CheckFailed(f"{what}: the noise has standard deviation {std:.4f}; {why}")
    corr = np.asarray(np.corrcoef(noise[:, :8].T))[np.triu_indices(8, 1)]
    if np.max(np.abs(corr)) > 0.2:
        raise CheckFailed(
            f"{what}: the noise of different pixels is correlated; draw each pixel's independently"
        )
    if not np.allclose(y, as_array(add_noise(x, sigma, np.random.default_rng(0)), what)):
        raise CheckFailed(
            f"{what}: two calls with generators of the same seed gave different noise; draw from the rng "
            "passed in, not from np.random"
        )
    if np.allclose(y, as_array(add_noise(x, sigma, np.random.default_rng(1)), what)):
        raise CheckFailed(
            f"{what}: generators of different seeds gave the same noise; draw from the rng passed in"
        )
    _, x_test = _split()
    noisy = as_array(add_noise(x_test, NOISE, np.random.default_rng(3)), f"add_noise(x_test, {NOISE}, rng)")
    if noisy.min() < 0.0 or noisy.max() > 1.0:
        raise CheckFailed(
            f"add_noise(x_test, {NOISE}, rng) returned pixels from {noisy.min():.2f} to {noisy.max():.2f}; "
            "clip them to the pixel range [0, 1]"
        )
    clipped_share = float(np.mean((noisy == 0.0) | (noisy == 1.0)))
    return (
        f"zero-mean Gaussian noise, standard deviation {std:.4f} for sigma = {sigma}, independent per pixel, "
        f"reproducible from the rng, clipped to [0, 1] "
        f"({clipped_share:.0%} of held-out pixels at sigma = {NOISE}); "
        "x left unchanged"
    )


# Denoising ----------------------------------------------------------------------------------


def _check_pairs(denoising_pairs: Any, x: np.ndarray, copies: int = 3) -> None:
    """With sigma = 0 there is no noise, so each input row must equal its target row."""
    expect_callable(denoising_pairs, "denoising_pairs")
    what = f"denoising_pairs(x of shape {x.shape}, sigma=0.0, copies={copies}, rng)"
    out = denoising_pairs(x.copy(), 0.0, copies, np.random.default_rng(0))
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} returned {type(out).__name__}; expected a pair (inputs, targets)")
    inputs, targets = as_array(out[0], f"{what}'s inputs"), as_array(out[1], f"{what}'s targets")
    want = (copies * len(x), x.shape[1])
    for name, arr in (("inputs", inputs), ("targets", targets)):
        if arr.shape != want:
            raise CheckFailed(f"{what}: {name} has shape {arr.shape}; expected (copies · N, 64) = {want}")
    if np.allclose(inputs, targets):
        _check_pairs_noise(denoising_pairs, x, copies)
        return
    row = int(np.argmax(np.abs(inputs - targets).max(axis=1) > 1e-6))
    if np.allclose(targets, np.repeat(x, copies, axis=0)) and np.allclose(inputs, np.tile(x, (copies, 1))):
        why = (
            "the inputs hold the copies block after block (all of x, then all of x again) but the targets "
            f"repeat each image {copies} times in a row (np.repeat), so most noisy images are paired with "
            "another digit's clean version: stack the targets the same way, np.concatenate([x] * copies)"
        )
    else:
        why = (
            "row i of targets must be the clean original of row i of inputs: stack both in the same order, "
            "and draw the noise with the sigma passed in"
        )
    raise CheckFailed(
        f"{what}: with no noise every input should equal its target, but row {row} differs — {why}"
    )


def _check_pairs_noise(denoising_pairs: Any, x: np.ndarray, copies: int) -> None:
    """With noise: clean targets, noisy inputs, a fresh corruption in every copy, drawn from rng."""
    sigma = NOISE
    what = f"denoising_pairs(x of shape {x.shape}, sigma={sigma}, copies={copies}, rng)"
    out = denoising_pairs(x.copy(), sigma, copies, np.random.default_rng(5))
    inputs = as_array(out[0], f"{what}'s inputs").reshape(copies, len(x), -1)
    targets = as_array(out[1], f"{what}'s targets").reshape(copies, len(x), -1)
    if not np.allclose(targets, x[None]):
        raise CheckFailed(
            f"{what}: the targets are not the clean x stacked copies times; "
            "the targets are the clean images, only the inputs are corrupted"
        )
    noise = inputs - x[None]  # (copies, N, 64)
    if np.allclose(noise, 0.0):
        raise CheckFailed(
            f"{what}: the inputs equal the clean images; corrupt them with add_noise(x, sigma, rng)"
        )
    for i in range(1, copies):
        if np.allclose(noise[i], noise[0]):
            raise CheckFailed(
                f"{what}: copy {i + 1} of the inputs carries exactly the same noise as copy 1 — "
                "the corruption was drawn once and repeated; call add_noise(x, sigma, rng) once per copy, "
                "so that every copy is a fresh draw"
            )
    again = as_array(denoising_pairs(x.copy(), sigma, copies, np.random.default_rng(5))[0], what)
    other = as_array(denoising_pairs(x.copy(), sigma, copies, np.random.default_rng(6))[0], what)
    if not np.allclose(again.reshape(inputs.shape), inputs):
        raise CheckFailed(
            f"{what}: two calls with generators of the same seed gave different inputs; "
            "draw the noise from the rng passed in (add_noise(x, sigma, rng)), not from np.random"
        )
    if np.allclose(other.reshape(inputs.shape), inputs):
        raise CheckFailed(
            f"{what}: generators of different seeds gave the same inputs; draw from the rng passed in"
        )


def pca_denoise_mse(noisy: np.ndarray, clean: np.ndarray) -> tuple[int, float]:
    """PCA's denoising baseline: k chosen on a noisy copy of the training digits; held-out MSE."""
    from sklearn.decomposition import PCA

    x_train, _ = _split()
    noisy_train = corrupt(x_train, NOISE, NOISE_SEED + 1)
    best: tuple[float, int, Any] | None = None
    for k in PCA_KS:
        pca = PCA(n_components=k).fit(x_train)
        err = float(np.mean((pca.inverse_transform(pca.transform(noisy_train)) - x_train) ** 2))
        if best is None or err < best[0]:
            best = (err, k, pca)
    assert best is not None
    _, k, pca = best
    return k, float(np.mean((pca.inverse_transform(pca.transform(noisy)) - clean) ** 2))


@checker("step7.denoising_autoencoder")
def check_denoising_autoencoder(autoencoder: Any, denoising_pairs: Any = None) -> str:
    if autoencoder is None:  # the training cell could not run
        raise NotImplementedError
    expect_callable(autoencoder, "autoencoder")
    _, x_test = _split()
    if denoising_pairs is not None:
        _check_pairs(denoising_pairs, x_test[:4])
    noisy = corrupt(x_test, NOISE, NOISE_SEED)  # the checker's own corruption of the held-out digits
    noisy_mse = float(np.mean((noisy - x_test) ** 2))
    out = _apply(autoencoder, noisy, "the denoising autoencoder")
    if out.size != x_test.size:
        raise CheckFailed(f"the denoising autoencoder returned shape {out.shape}; expected {x_test.shape}")
    out = out.reshape(x_test.shape)
    mse = float(np.mean((out - x_test) ** 2))
    clean_in = _apply(autoencoder, x_test, "the denoising autoencoder").reshape(x_test.shape)
    clean_mse = float(np.mean((clean_in - x_test) ** 2))
    where = (
        f"on the {len(x_test)} held-out digits with the checker's own noise (sigma = {NOISE}, clipped), "
        f"your model's output is {mse:.4f} from the clean images (MSE); the noisy inputs were {noisy_mse:.4f}"
    )
    if not np.isfinite(mse) or mse > DAE_MAX_MSE:
        if mse > 0.6 * noisy_mse and clean_mse < 0.5 * mse:
            why = (
                f"on clean inputs it is {clean_mse:.4f}, so it copies whatever it is given, noise included: "
                "train on noisy inputs with the clean images as targets"
            )
        elif mse > noisy_mse:
            why = (
                "it makes the images worse than the noise did: is it trained, with each noisy image's own "
                "clean version as its target (the same row order in inputs and targets)?"
            )
        else:
            why = "train longer, on a fresh corruption of the training images for every pass"
        raise CheckFailed(f"{where}; needs at most {DAE_MAX_MSE} — {why}")
    k, pca = pca_denoise_mse(noisy, x_test)
    return (
        f"{where}; on clean inputs {clean_mse:.4f}; bound {DAE_MAX_MSE}; "
        f"PCA with {k} components on the same noisy digits: {pca:.4f}"
    )


# Principal angles ----------------------------------------------------------------------------

ANGLE_ATOL = 1e-3  # radians: float32 puts one subspace in two bases ~4e-4 apart (arccos near 1)


def _angle_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    a = rng.normal(size=(64, 4))
    mixed = a @ rng.normal(size=(4, 4)) * 3.0  # the same subspace, another basis, not orthonormal
    tilted = a + 0.3 * rng.normal(size=(64, 4))  # a nearby subspace
    b = rng.normal(size=(20, 3))
    return [
        (
            "two random 4-dimensional subspaces of R^64 (columns neither unit nor orthogonal)",
            a,
            rng.normal(size=(64, 4)),
        ),
        ("a subspace and a tilted copy of it", a, tilted),
        ("one subspace in two bases (A and A @ M, M invertible)", a, mixed),
        ("two 3-dimensional subspaces of R^20", b, rng.normal(size=(20, 3))),
    ]


@checker("step7.principal_angles")
def check_principal_angles(principal_angles: Any) -> str:
    from scipy.linalg import subspace_angles

    expect_callable(principal_angles, "principal_angles")
    shown = []
    for what, a, b in _angle_cases():
        before = (a.copy(), b.copy())
        got = as_array(principal_angles(a, b), f"principal_angles on {what}").ravel()
        if not (np.array_equal(a, before[0]) and np.array_equal(b, before[1])):
            raise CheckFailed(f"principal_angles changed its arguments on {what}; leave A and B as they are")
        want = np.sort(subspace_angles(a, b))
        if got.shape != want.shape:
            raise CheckFailed(
                f"principal_angles on {what} returned {got.size} angles; "
                f"expected {want.size}, one per dimension"
            )
        if not np.all(np.isfinite(got)):
            raise CheckFailed(
                f"principal_angles on {what} returned {got}: a cosine just above 1 from rounding gives "
                "arccos = nan; clip the cosines to [-1, 1] first"
            )
        got = np.sort(got)
        if np.allclose(got, want, atol=ANGLE_ATOL):
            shown.append(f"{np.degrees(want.max()):.1f}°")
            continue
        if np.allclose(got, np.degrees(want), atol=1e-4):
            why = "these are degrees; return radians, as np.arccos gives them"
        elif np.allclose(got, np.sort(np.cos(want)), atol=1e-5):
            why = "these look like the cosines; the angles are their arccos"
        elif np.allclose(want, 0.0, atol=1e-6):
            why = (
                "A and A @ M span the same subspace, so every angle is 0: make each basis orthonormal "
                "(np.linalg.qr) before the SVD, or the singular values depend on the lengths of the columns"
            )
        else:
            why = (
                "the singular values of A.T @ B are cosines only when both bases are orthonormal: "
                "orthonormalise each with np.linalg.qr first"
            )
        raise CheckFailed(
            f"principal_angles on {what} returned {np.round(got, 4)} (sorted); expected "
            f"{np.round(want, 4)} radians (scipy.linalg.subspace_angles) — {why}"
        )
    return (
        "matches scipy.linalg.subspace_angles on random, tilted and re-based subspaces "
        f"(largest angles {', '.join(shown)}), in radians"
    )


# The VAE's KL and reparameterisation -------------------------------------------------------

KL_MU = np.array([[0.0, 0.0], [0.5, -1.0], [2.0, 0.3], [-1.5, 0.8]])  # (4, 2)
KL_LOG_VAR = np.array([[0.0, 0.0], [-0.7, 0.4], [-2.0, 1.0], [0.5, -0.3]])
MC_DRAWS = 100_000


def kl_reference(mu: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """The closed form, summed over the code's dimensions: (N, d) -> (N,)."""
    kl: np.ndarray = 0.5 * np.sum(mu**2 + np.exp(log_var) - 1.0 - log_var, axis=-1)
    return kl


def _kl_why(got: np.ndarray, mu: np.ndarray, log_var: np.ndarray) -> str:
    want = kl_reference(mu, log_var)
    d = mu.shape[1]
    if np.any(got < -1e-9):
        return "a KL divergence is never negative: the sign is flipped (KL = E_q[log q - log p])"
    if np.allclose(got, want / d, rtol=1e-4):
        return f"that is the sum divided by {d}: sum over the code's dimensions, do not average"
    if np.allclose(got, 2 * want, rtol=1e-4):
        return "twice the KL: the 1/2 in front of each dimension's term is missing"
    if np.allclose(got, 0.5 * np.sum(mu**2 + np.exp(2 * log_var) - 1.0 - 2 * log_var, axis=-1), rtol=1e-4):
        return "log_var is the log of the variance sigma², not of sigma: sigma² = exp(log_var)"
    if np.allclose(got, 0.5 * np.sum(mu**2 + np.exp(log_var) - log_var, axis=-1), rtol=1e-4):
        return "the -1 of each dimension is missing: at mu = 0, sigma = 1 the KL must be 0"
    return "take E_q[log q(z) - log p(z)] one dimension at a time, then sum over the dimensions"


@checker("step7.vae_kl")
def check_vae_kl(gaussian_kl: Any, reparameterise: Any) -> str:
    expect_callable(gaussian_kl, "gaussian_kl")
    expect_callable(reparameterise, "reparameterise")
    mu, log_var = KL_MU.copy(), KL_LOG_VAR.copy()
    what = f"gaussian_kl(mu, log_var) for {len(mu)} Gaussians of {mu.shape[1]} dimensions"
    got = as_array(gaussian_kl(mu, log_var), what)
    want = kl_reference(KL_MU, KL_LOG_VAR)
    if got.shape != want.shape:
        why = (
            " (a sum over axis 0 adds up the Gaussians: sum over axis=-1)"
            if got.shape == (mu.shape[1],)
            else ""
        )
        raise CheckFailed(f"{what} returned shape {got.shape}; expected {want.shape}, one KL per row{why}")
    if not np.allclose(got, want, rtol=1e-4, atol=1e-6):
        raise CheckFailed(
            f"{what} returned {np.round(got, 4)}; expected {np.round(want, 4)} — " + _kl_why(got, mu, log_var)
        )
    got32 = as_array(gaussian_kl(mu.astype(np.float32), log_var.astype(np.float32)), what)
    if not np.allclose(got32, want, rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{what} in float32 returned {np.round(got32, 4)}; expected {np.round(want, 4)}")

    # reparameterise: values, then the Monte-Carlo KL made from its draws
    eps = np.random.default_rng(21).standard_normal((MC_DRAWS, 2))
    m, lv = KL_MU[1], KL_LOG_VAR[1]
    rwhat = f"reparameterise(mu={m.tolist()}, log_var={lv.tolist()}, eps)"
    z = as_array(reparameterise(np.tile(m, (MC_DRAWS, 1)), np.tile(lv, (MC_DRAWS, 1)), eps), rwhat)
    if z.shape != eps.shape:
        raise CheckFailed(f"{rwhat} returned shape {z.shape}; expected {eps.shape}, the shape of eps")
    sd = z.std(axis=0)
    want_sd = np.exp(lv / 2)
    if not np.allclose(z, m + want_sd * eps, rtol=1e-4, atol=1e-5):
        if np.allclose(sd, np.exp(lv), rtol=0.02):
            why = (
                f"the draws have standard deviations {np.round(sd, 3)} = exp(log_var), the variance: "
                "sigma = exp(log_var / 2)"
            )
        elif np.allclose(z.mean(axis=0), 0.0, atol=0.02) and not np.allclose(m, 0.0):
            why = "the draws are centred on 0, not on mu: add mu"
        else:
            why = f"z = mu + sigma * eps with sigma = exp(log_var / 2) = {np.round(want_sd, 4)}"
        raise CheckFailed(
            f"{rwhat}: the draws have mean {np.round(z.mean(axis=0), 3)} and standard deviation "
            f"{np.round(sd, 3)}; expected {m.tolist()} and {np.round(want_sd, 3)} — {why}"
        )
    log_q = _log_normal(z, m, want_sd)
    log_p = _log_normal(z, np.zeros(2), np.ones(2))
    ratio = log_q - log_p
    mc, err = float(ratio.mean()), float(ratio.std() / np.sqrt(len(ratio)))
    closed = float(got[1])
    if abs(mc - closed) > 5 * err + 1e-3:
        raise CheckFailed(
            f"your closed form gives {closed:.4f} but a Monte-Carlo estimate from your reparameterise gives "
            f"{mc:.4f} ± {err:.4f}"
        )
    _check_gradients(reparameterise)
    _check_in_graph(gaussian_kl)
    return (
        f"closed form matches for {len(mu)} Gaussians (float64 and float32); for mu {m.tolist()}, "
        f"log_var {lv.tolist()}: closed form {closed:.4f}, Monte-Carlo from your reparameterise "
        f"{mc:.4f} ± {err:.4f} over {MC_DRAWS} draws; gradients reach mu and log_var"
    )


def _log_normal(z: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.sum(-0.5 * np.log(2 * np.pi * sd**2) - (z - mean) ** 2 / (2 * sd**2), axis=-1)
    return out


def _check_gradients(reparameterise: Any) -> None:
    """Inside a model the draw must stay differentiable in mu and log_var."""
    import tensorflow as tf

    mu = tf.Variable([[0.5, -1.0]], dtype=tf.float32)
    log_var = tf.Variable([[-0.7, 0.4]], dtype=tf.float32)
    eps = tf.constant([[1.5, -0.5]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        try:
            z = reparameterise(mu, log_var, eps)
            total = tf.reduce_sum(tf.convert_to_tensor(z, dtype=tf.float32))
        except Exception as exc:
            raise CheckFailed(
                f"reparameterise on TensorFlow tensors (as inside the VAE) raised "
                f"{type(exc).__name__}: {exc} — "
                "write it with keras.ops (ops.exp), which takes numpy arrays and tensors alike"
            ) from None
    g_mu, g_lv = tape.gradient(total, [mu, log_var])
    missing = [name for name, g in (("mu", g_mu), ("log_var", g_lv)) if g is None]
    if missing:
        raise CheckFailed(
            f"no gradient reaches {' or '.join(missing)} through reparameterise: a numpy function "
            "(np.exp, np.sqrt) turns the tensor into a numpy array and cuts the gradient; use ops.exp"
        )
    want_lv = 0.5 * np.exp(0.5 * np.array([-0.7, 0.4])) * np.array([1.5, -0.5])
    if not np.allclose(np.asarray(g_lv).ravel(), want_lv, rtol=1e-3, atol=1e-5):
        raise CheckFailed(
            f"the gradient of z with respect to log_var is {np.asarray(g_lv).ravel()}; expected {want_lv} "
            "= eps · exp(log_var / 2) / 2"
        )


def _check_in_graph(gaussian_kl: Any) -> None:
    """The VAE's training step is a tf.function: the KL must work on symbolic tensors too."""
    import tensorflow as tf

    mu = tf.constant(KL_MU, dtype=tf.float32)
    log_var = tf.constant(KL_LOG_VAR, dtype=tf.float32)
    try:
        out = tf.function(lambda m, v: gaussian_kl(m, v))(mu, log_var)
    except Exception as exc:
        raise CheckFailed(
            f"gaussian_kl inside a tf.function (as in the VAE's training step) raised {type(exc).__name__}: "
            f"{str(exc)[:200]} — write it with keras.ops (ops.sum, ops.exp), not numpy"
        ) from None
    got = as_array(out, "gaussian_kl on TensorFlow tensors")
    if not np.allclose(got, kl_reference(KL_MU, KL_LOG_VAR), rtol=1e-4, atol=1e-5):
        raise CheckFailed(
            f"gaussian_kl on TensorFlow tensors returned {np.round(got, 4)}; on numpy arrays it is right"
        )


# The predicted grid -------------------------------------------------------------------------

GRID_CHOICES = ("ae", "vae", "same")
SAME_WITHIN = 1.5


@checker("step7.grid_prediction")
def check_grid_prediction(predicted_smoother_grid: Any, grid_change: Any = None) -> str:
    expect_callable(predicted_smoother_grid, "predicted_smoother_grid")
    guess = predicted_smoother_grid()
    if not isinstance(guess, str) or guess.strip().lower() not in GRID_CHOICES:
        raise CheckFailed(
            f"predicted_smoother_grid() returned {guess!r}; expected one of {', '.join(GRID_CHOICES)}"
        )
    guess = guess.strip().lower()
    if grid_change is None:  # the grids were not measured: the VAE cell was skipped
        raise NotImplementedError
    try:
        ae, vae = float(grid_change["ae"]), float(grid_change["vae"])
    except (KeyError, TypeError, ValueError):
        raise CheckFailed(
            f"grid_change should be the measuring cell's dict with 'ae' and 'vae'; got {grid_change!r}"
        ) from None
    if vae * SAME_WITHIN < ae:
        truth = "vae"
    elif ae * SAME_WITHIN < vae:
        truth = "ae"
    else:
        truth = "same"
    measured = f"neighbouring images differ by {ae:.5f} in the plain AE's grid and {vae:.5f} in the VAE's"
    if guess != truth:
        why = {
            "ae": "the plain autoencoder's codes are exact points, but nothing trains its decoder on "
            "the gaps between them, and its grid crosses those gaps",
            "same": "both decoders see the same digits, but only the VAE's is trained on whole clouds of "
            "codes around each image, pulled together by the KL",
            "vae": "",
        }[guess]
        raise CheckFailed(
            f"you predicted {guess!r}; measured: {measured} ({ae / vae:.1f}×), so {truth!r} — {why}"
        )
    return f"you predicted {guess!r}; measured: {measured}, {ae / vae:.1f}× smoother"
