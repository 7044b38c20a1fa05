"""Checkers for step 7's third notebook (03_autoencoders): ``step7.autoencoder``,
``step7.add_noise`` and ``step7.denoising_autoencoder``.

The facts: reconstruction errors this module measures itself on the fixed held-out split of
scikit-learn's digits (pixels in [0, 1]), against stated bounds and against PCA with the same
code size, which it fits itself on the training split; and statistics of the learner's noise
on inputs made here. Keras and scikit-learn are imported inside the checkers only.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

PIXELS = 64
MAX_CODE = 8  # the bottleneck: at most 8 numbers for 64 pixels
AE_MAX_MSE = 0.018  # the notebook's autoencoder: 0.012-0.014 (seeds 0, 1, 2); PCA with 8 components: 0.0241
NOISE = 0.3  # the standard deviation of the Gaussian corruption, before clipping
NOISE_SEED = 77
DAE_MAX_MSE = 0.025  # noisy inputs themselves: 0.050; the notebook's model: about 0.018


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


@checker("step7.autoencoder")
def check_autoencoder(encoder: Any, decoder: Any) -> str:
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
    return f"{where}; on clean inputs {clean_mse:.4f}; bound {DAE_MAX_MSE}"
