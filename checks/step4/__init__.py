"""Checkers for step 4, "Getting Practical" (ids ``step4.*``).

One module per notebook: ``autodiff`` (01: tf.GradientTape, Mazur's gradients by autodiff) and
``training`` (02: a hand-written loop, Keras fit, NumPy against Keras) and ``libraries`` (03: JAX's
grad, jit and vmap, one Keras model on two backends). Importing this package registers every
step-4 checker; no module imports TensorFlow or JAX until a checker runs.
"""

from . import autodiff, libraries, training
from .autodiff import MAZUR_B, MAZUR_GRAD, MAZUR_T, MAZUR_W, MAZUR_W_PLUS, MAZUR_X
from .training import digits_split

__all__ = [
    "MAZUR_B",
    "MAZUR_GRAD",
    "MAZUR_T",
    "MAZUR_W",
    "MAZUR_W_PLUS",
    "MAZUR_X",
    "autodiff",
    "digits_split",
    "libraries",
    "training",
]
