"""Step 5 checkers: each passes a right answer and fails the typical wrong ones usefully."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from dl7.checks import evaluate
from tests.checking import stub

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# conv_output_size ---------------------------------------------------------------------------


def size_right(n: int, k: int, stride: int = 1, padding: int | str = 0) -> int:
    if padding == "SAME":
        return int(np.ceil(n / stride))
    p = 0 if padding == "VALID" else int(padding)
    return int(np.floor((n + 2 * p - k) / stride)) + 1


def test_conv_output_size_right() -> None:
    r = evaluate("step5.conv_output_size", size_right)
    assert r.status == "passed", r.message
    assert "AlexNet" in r.message


def test_conv_output_size_without_plus_one() -> None:
    r = evaluate("step5.conv_output_size", lambda n, k, s=1, p=0: size_right(n, k, s, p) - 1)
    assert r.status == "failed"
    assert "returned 2; expected 3" in r.message and "+1" in r.message


def test_conv_output_size_float_division() -> None:
    r = evaluate("step5.conv_output_size", lambda n, k, s=1, p=0: float(size_right(n, k, s, p)))
    assert r.status == "failed" and "a float" in r.message and "//" in r.message


def test_conv_output_size_pads_one_side_only() -> None:
    def one_side(n: int, k: int, s: int = 1, p: int | str = 0) -> int:
        if isinstance(p, str):
            return size_right(n, k, s, p)
        return (n + p - k) // s + 1

    r = evaluate("step5.conv_output_size", one_side)
    assert r.status == "failed" and "expected 5" in r.message and "each* side" in r.message


def test_conv_output_size_rounds_up() -> None:
    def ceil(n: int, k: int, s: int = 1, p: int | str = 0) -> int:
        p = 0 if isinstance(p, str) else p
        return -(-(n + 2 * p - k) // s) + 1

    r = evaluate("step5.conv_output_size", ceil)
    assert r.status == "failed" and "expected 3" in r.message and "round down" in r.message


def test_conv_output_size_same_rounds_down() -> None:
    def floor_same(n: int, k: int, s: int = 1, p: int | str = 0) -> int:
        return n // s if p == "SAME" else size_right(n, k, s, p)

    r = evaluate("step5.conv_output_size", floor_same)
    assert r.status == "failed" and "expected 4" in r.message and "ceil(n / stride)" in r.message


def test_conv_output_size_stub() -> None:
    assert evaluate("step5.conv_output_size", stub).status == "not_attempted"


# conv2d and max_pool2d ----------------------------------------------------------------------


def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    total = max((int(np.ceil(n / s)) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv_right(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int | str = "VALID") -> np.ndarray:
    kh, kw = w.shape[:2]
    if padding == "SAME":
        ph, pw = same_pads(x.shape[1], kh, stride), same_pads(x.shape[2], kw, stride)
    else:
        p = 0 if padding == "VALID" else int(padding)
        ph = pw = (p, p)
    xp = np.pad(x, [(0, 0), ph, pw, (0, 0)])
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # (N, OH, OW, C, KH, KW)
    return np.einsum("nhwcab,abco->nhwo", windows, w)


def test_conv2d_right() -> None:
    r = evaluate("step5.conv2d", conv_right)
    assert r.status == "passed", r.message
    assert "tf.nn.conv2d" in r.message


def test_conv2d_flipped_kernel_is_true_convolution() -> None:
    r = evaluate("step5.conv2d", lambda x, w, s=1, p="VALID": conv_right(x, w[::-1, ::-1], s, p))
    assert r.status == "failed"
    assert "expected 37" in r.message and "flipped" in r.message and "cross-correlation" in r.message


def test_conv2d_same_padding_on_the_wrong_side() -> None:
    def top_left(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int | str = "VALID") -> np.ndarray:
        if padding != "SAME":
            return conv_right(x, w, stride, padding)
        kh, kw = w.shape[:2]
        ph, pw = same_pads(x.shape[1], kh, stride)[::-1], same_pads(x.shape[2], kw, stride)[::-1]
        xp = np.pad(x, [(0, 0), ph, pw, (0, 0)])
        return conv_right(xp, w, stride, "VALID")

    r = evaluate("step5.conv2d", top_left)
    assert r.status == "failed" and "bottom and right" in r.message


def test_conv2d_ignoring_integer_padding_gives_a_shape_message() -> None:
    def no_pad(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int | str = "VALID") -> np.ndarray:
        return conv_right(x, w, stride, padding if isinstance(padding, str) else "VALID")

    r = evaluate("step5.conv2d", no_pad)
    assert r.status == "failed"
    assert "padding=1 returned shape (2, 4, 3, 2); expected (2, 6, 5, 2)" in r.message


def test_conv2d_that_changes_its_input() -> None:
    def in_place(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int | str = "VALID") -> np.ndarray:
        out = conv_right(x, w, stride, padding)
        x *= 0
        return out

    r = evaluate("step5.conv2d", in_place)
    assert r.status == "failed" and "changed its input" in r.message


def test_conv2d_wrong_values_name_the_case() -> None:
    r = evaluate("step5.conv2d", lambda x, w, s=1, p="VALID": conv_right(x, w, s, p) + (s == 2))
    assert r.status == "failed" and "stride=2" in r.message and "off at index" in r.message


def test_conv2d_stub_and_crash() -> None:
    assert evaluate("step5.conv2d", stub).status == "not_attempted"

    def crash(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int | str = "VALID") -> np.ndarray:
        return x @ w  # shapes don't line up

    r = evaluate("step5.conv2d", crash)
    assert r.status == "error" and "ValueError" in r.message and "in crash" in r.message


def pool_right(x: np.ndarray, size: int = 2, stride: int | None = None, padding: str = "VALID") -> np.ndarray:
    stride = stride or size
    pads = (0, 0), (0, 0)
    if padding == "SAME":
        pads = same_pads(x.shape[1], size, stride), same_pads(x.shape[2], size, stride)
    xp = np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)], constant_values=-np.inf)
    return sliding_window_view(xp, (size, size), axis=(1, 2))[:, ::stride, ::stride].max(axis=(-2, -1))


def test_max_pool2d_right() -> None:
    r = evaluate("step5.max_pool2d", pool_right)
    assert r.status == "passed", r.message


def test_max_pool2d_average_instead_of_max() -> None:
    def avg(x: np.ndarray, size: int = 2, stride: int | None = None, padding: str = "VALID") -> np.ndarray:
        s = stride or size
        return sliding_window_view(x, (size, size), axis=(1, 2))[:, ::s, ::s].mean(axis=(-2, -1))

    r = evaluate("step5.max_pool2d", avg)
    assert r.status == "failed" and "averages" in r.message


def test_max_pool2d_zero_padding_wins() -> None:
    def zero_pad(
        x: np.ndarray, size: int = 2, stride: int | None = None, padding: str = "VALID"
    ) -> np.ndarray:
        s = stride or size
        pads = [(0, 0), (0, 0)]
        if padding == "SAME":
            pads = [same_pads(x.shape[1], size, s), same_pads(x.shape[2], size, s)]
        xp = np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)])  # zeros
        return pool_right(xp, size, s, "VALID")

    r = evaluate("step5.max_pool2d", zero_pad)
    assert r.status == "failed" and "the padding won" in r.message and "-inf" in r.message


def test_max_pool2d_stride_default_must_be_size() -> None:
    r = evaluate(
        "step5.max_pool2d",
        lambda x, size=2, stride=None, padding="VALID": pool_right(x, size, stride or 1, padding),
    )
    assert r.status == "failed" and "shape (1, 3, 3, 1); expected (1, 2, 2, 1)" in r.message


def test_max_pool2d_ignores_same() -> None:
    r = evaluate(
        "step5.max_pool2d", lambda x, size=2, stride=None, padding="VALID": pool_right(x, size, stride)
    )
    assert r.status == "failed" and "expected (1, 2, 2, 1)" in r.message


def test_max_pool2d_stub() -> None:
    assert evaluate("step5.max_pool2d", stub).status == "not_attempted"


# lenet_digits -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_split() -> Any:
    from dl7 import datasets

    return datasets.load("digits").split3()  # the shared split: its test part is split()'s too


def _lookup_model(
    split: Any,
    *,
    n_wrong: int = 0,
    n_convs: int = 2,
    pool: bool = True,
    n_out: int = 10,
    extra_dense: int = 0,
) -> Any:
    """A Keras model that answers by looking up the held-out images: no training needed.

    It carries real Conv2D / pooling layers so the architecture rules can be exercised.
    """
    import keras

    keys = split.x_test.reshape(len(split.x_test), -1)
    answers = split.y_test.copy()
    answers[:n_wrong] = (answers[:n_wrong] + 1) % 10

    class Lookup(keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.convs = [keras.layers.Conv2D(4, 3, padding="same") for _ in range(n_convs)]
            self.pool = keras.layers.MaxPooling2D(2) if pool else None
            self.extra = keras.layers.Dense(extra_dense) if extra_dense else None

        def call(self, x: Any) -> Any:
            h = x
            for conv in self.convs:
                h = conv(h)
            if self.pool is not None:
                h = self.pool(h)
            if self.extra is not None:
                h = self.extra(keras.ops.reshape(h, (keras.ops.shape(h)[0], -1)))
            flat = np.asarray(x).reshape(len(x), -1)
            idx = np.argmin(((flat[:, None, :] - keys[None, :, :]) ** 2).sum(-1), axis=1)
            return np.eye(n_out, dtype=np.float32)[answers[idx] % n_out]

    model = Lookup()
    model(split.x_test[:2])  # build the layers
    return model


def test_lenet_passes_an_accurate_model(digits_split: Any) -> None:
    r = evaluate("step5.lenet_digits", _lookup_model(digits_split, n_wrong=5))
    assert r.status == "passed", r.message
    assert "98.61% on the 359 test digits images of the shared split" in r.message
    assert (
        evaluate("step5.lenet_digits", _lookup_model(digits_split, n_wrong=8)).status == "passed"
    )  # 97.77 %


def test_lenet_fails_below_97_5_percent(digits_split: Any) -> None:
    r = evaluate("step5.lenet_digits", _lookup_model(digits_split, n_wrong=9))
    assert r.status == "failed"
    assert "test accuracy 97.49% on the 359 test digits images of the shared split; needs 97.5%" in r.message


def test_lenet_needs_two_convolutions(digits_split: Any) -> None:
    r = evaluate("step5.lenet_digits", _lookup_model(digits_split, n_convs=1))
    assert r.status == "failed" and "1 Conv2D layer(s)" in r.message and "at least two" in r.message


def test_lenet_needs_pooling(digits_split: Any) -> None:
    r = evaluate("step5.lenet_digits", _lookup_model(digits_split, pool=False))
    assert r.status == "failed" and "no MaxPooling2D" in r.message


def test_lenet_parameter_limit(digits_split: Any) -> None:
    r = evaluate("step5.lenet_digits", _lookup_model(digits_split, extra_dense=1000))
    assert r.status == "failed" and "keep it at 50,000 or fewer" in r.message


def test_lenet_softmax_outputs_are_named(digits_split: Any) -> None:
    import keras

    model = _lookup_model(digits_split, n_wrong=5)
    probs = keras.Sequential([keras.Input(shape=(8, 8, 1)), model, keras.layers.Softmax()])
    r = evaluate("step5.lenet_digits", probs)
    assert r.status == "failed" and "outputs are probabilities" in r.message and "no activation" in r.message


def test_conv_output_size_same_as_half_the_kernel_fails_for_even_kernels() -> None:
    def half_kernel(n: int, k: int, s: int = 1, p: Any = 0) -> int:
        if isinstance(p, str):
            p = k // 2 if p == "SAME" else 0
        return (n + 2 * p - k) // s + 1

    r = evaluate("step5.conv_output_size", half_kernel)
    assert r.status == "failed" and "k=2" in r.message and "even kernel" in r.message


def test_lenet_wrong_number_of_outputs(digits_split: Any) -> None:
    r = evaluate("step5.lenet_digits", _lookup_model(digits_split, n_out=5))
    assert r.status == "failed" and "expected 10 class scores" in r.message


def _sequential(input_shape: tuple[int, ...]) -> Any:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(10),
        ]
    )


def test_lenet_untrained_model(digits_split: Any) -> None:
    r = evaluate("step5.lenet_digits", _sequential((8, 8, 1)))
    assert r.status == "failed" and "is the model trained?" in r.message


def test_lenet_wrong_input_shape() -> None:
    r = evaluate("step5.lenet_digits", _sequential((28, 28, 1)))
    assert r.status == "failed" and "input shape (8, 8, 1)" in r.message


def test_lenet_not_a_keras_model() -> None:
    r = evaluate("step5.lenet_digits", object())
    assert r.status == "failed" and "expected a Keras model" in r.message


def test_lenet_unknown_dataset() -> None:
    r = evaluate("step5.lenet_digits", object(), dataset="cifar10")
    assert r.status == "failed" and "'digits' or 'mnist'" in r.message


def test_lenet_on_mnist_not_downloaded() -> None:
    r = evaluate("step5.lenet_digits", object(), dataset="mnist")
    assert r.status == "failed" and "run `dl7 data fetch mnist`" in r.message


def test_lenet_not_trained_yet() -> None:
    # The notebook sets model = None and its training cell assigns it: with the build_model stub
    # still in place the exercise is "not attempted"; with a working one, train first.
    assert evaluate("step5.lenet_digits", None, stub).status == "not_attempted"
    assert evaluate("step5.lenet_digits", None).status == "not_attempted"
    r = evaluate("step5.lenet_digits", None, lambda shape, n: _sequential(shape))
    assert r.status == "failed" and "run the training cell" in r.message
    r = evaluate("step5.lenet_digits", None, lambda shape, n: None)
    assert r.status == "failed" and "did you forget `return model`" in r.message


@pytest.mark.slow
def test_lenet_trained_small_cnn_passes(digits_split: Any) -> None:
    """End to end: a real LeNet-style CNN trained briefly clears the bar (about 15 s)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(64, activation="relu"),
            layers.Dense(10),
        ]
    )
    steps = 30 * int(np.ceil(len(digits_split.x_train) / 32))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(digits_split.x_train, digits_split.y_train, epochs=30, batch_size=32, verbose=0)
    r = evaluate("step5.lenet_digits", model)
    assert r.status == "passed", r.message


# layer_params and receptive_field -----------------------------------------------------------


def conv_params(kh: int, kw: int, c_in: int, c_out: int) -> int:
    return kh * kw * c_in * c_out + c_out


def dense_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def test_layer_params_right() -> None:
    r = evaluate("step5.layer_params", conv_params, dense_params)
    assert r.status == "passed", r.message


def test_layer_params_without_biases() -> None:
    r = evaluate("step5.layer_params", lambda kh, kw, ci, co: kh * kw * ci * co, dense_params)
    assert r.status == "failed"
    assert "conv_params(5, 5, 1, 20) (Caffe LeNet conv1) returned 500; expected 520" in r.message
    assert "bias" in r.message
    r = evaluate("step5.layer_params", conv_params, lambda i, o: i * o)
    assert r.status == "failed" and "expected 400,500" in r.message and "bias" in r.message


def test_layer_params_forgetting_input_channels() -> None:
    r = evaluate("step5.layer_params", lambda kh, kw, ci, co: kh * kw * co + co, dense_params)
    assert r.status == "failed" and "returned 1,300; expected 25,050" in r.message


def test_layer_params_missing_return_and_stub() -> None:
    r = evaluate("step5.layer_params", lambda *a: None, dense_params)
    assert r.status == "failed" and "forget a `return`" in r.message
    assert evaluate("step5.layer_params", stub, stub).status == "not_attempted"
    assert evaluate("step5.layer_params", conv_params, stub).status == "not_attempted"


def receptive_right(layers: list[tuple[int, int]]) -> int:
    # Walk down from one top unit, tracking the span of positions it depends on.
    span = 1
    for kernel, stride in reversed(layers):
        span = (span - 1) * stride + kernel
    return span


def test_receptive_field_right() -> None:
    r = evaluate("step5.receptive_field", receptive_right)
    assert r.status == "passed", r.message
    assert "195" in r.message


def test_receptive_field_ignoring_strides() -> None:
    r = evaluate("step5.receptive_field", lambda layers: 1 + sum(k - 1 for k, _ in layers))
    assert r.status == "failed" and "returned 4; expected 8" in r.message


def test_receptive_field_multiplying_by_own_stride() -> None:
    def wrong(layers: list[tuple[int, int]]) -> int:
        field = 1
        for k, s in layers:
            field += (k - 1) * s  # uses this layer's stride, not the spacing of its inputs
        return field

    r = evaluate("step5.receptive_field", wrong)
    assert r.status == "failed" and "returned 7; expected 8" in r.message


def test_receptive_field_stub_and_none() -> None:
    assert evaluate("step5.receptive_field", stub).status == "not_attempted"
    r = evaluate("step5.receptive_field", lambda layers: None)
    assert r.status == "failed" and "forget a `return`" in r.message
