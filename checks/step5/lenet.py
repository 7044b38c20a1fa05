"""Checker for notebook 5.2, a LeNet-style CNN on the digits (``step5.lenet_digits``): an
accuracy the checker measures itself on the test part of the course's shared split
(``datasets.load(name).split3()``; for the digits the 359 test images notebooks 3.03 and 4.02
measure on too), under a parameter budget. TensorFlow, Keras and scikit-learn are imported lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import all_layers

# The LeNet-style CNN on digits --------------------------------------------------------------

LENET_RULES = {  # data set -> (max parameters, min test accuracy)
    "digits": (50_000, 0.975),  # the notebook's model, seeds 0-4: 98.05-99.16 % (1,079 training images)
    "mnist": (500_000, 0.98),
}


@checker("step5.lenet_digits")
def check_lenet_digits(model: Any, build_model: Any = None, dataset: str = "digits") -> str:
    if dataset not in LENET_RULES:
        raise CheckFailed(f"dataset={dataset!r}: this exercise is checked on 'digits' or 'mnist'")
    max_params, min_acc = LENET_RULES[dataset]
    from dl7 import datasets

    try:
        data = datasets.load(dataset)
    except datasets.DatasetError as exc:
        raise CheckFailed(str(exc)) from None
    split = data.split3()  # its test part is split()'s too
    if model is None:
        if build_model is not None:  # not trained yet: find out whether build_model works at all
            built = build_model(split.x_train.shape[1:], data.num_classes)
            if built is None:
                raise CheckFailed("build_model returned None; did you forget `return model`?")
            raise CheckFailed("model is None: run the training cell above first")
        raise NotImplementedError
    import keras

    if not isinstance(model, keras.Model):
        raise CheckFailed(f"expected a Keras model; got {type(model).__name__}")
    layers = all_layers(model)
    convs = [la for la in layers if isinstance(la, keras.layers.Conv2D)]
    pools = [la for la in layers if isinstance(la, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D)]
    if len(convs) < 2:
        raise CheckFailed(f"the model has {len(convs)} Conv2D layer(s); the exercise asks for at least two")
    if not pools:
        raise CheckFailed(
            "the model has no MaxPooling2D (or AveragePooling2D) layer; add one after a convolution"
        )
    params = model.count_params()
    if params > max_params:
        raise CheckFailed(f"the model has {params:,} parameters; keep it at {max_params:,} or fewer")
    try:
        scores = np.asarray(model(split.x_test, training=False))
    except Exception as exc:  # a wrong input shape surfaces here
        raise CheckFailed(
            f"the model could not take the test images of shape {split.x_test.shape} ({type(exc).__name__}); "
            f"build it with input shape {split.x_test.shape[1:]}"
        ) from None
    if scores.shape != (len(split.x_test), data.num_classes):
        raise CheckFailed(
            f"the model's output has shape {scores.shape[1:]} per image; "
            f"expected {data.num_classes} class scores (a final Dense({data.num_classes}))"
        )
    between = (scores > 0) & (scores < 1)
    if (
        np.all((scores >= 0) & (scores <= 1))
        and np.any(between)  # not a one-hot answer, which is a fine set of logits
        and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)
    ):
        raise CheckFailed(
            "the model's outputs are probabilities (each row sums to 1): the final Dense has a softmax, "
            "but the training cell's loss takes logits (from_logits=True) and applies the softmax itself — "
            f"end with Dense({data.num_classes}) and no activation"
        )
    accuracy = float(np.mean(np.argmax(scores, axis=1) == split.y_test))
    where = f"on the {len(split.y_test):,} test {dataset} images of the shared split"
    if accuracy < 0.3:
        raise CheckFailed(f"test accuracy {accuracy:.1%} {where}: is the model trained? Run model.fit first")
    if accuracy < min_acc:
        raise CheckFailed(
            f"test accuracy {accuracy:.2%} {where}; needs {min_acc:.1%} — "
            "train longer, or try more filters, dropout or batch normalisation"
        )
    return (
        f"test accuracy {accuracy:.2%} {where} (measured by the checker); "
        f"{len(convs)} conv layers, {params:,} parameters"
    )
