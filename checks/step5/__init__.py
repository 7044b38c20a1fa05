"""Checkers for step 5, "Convolutional Neural Nets and Computer Vision" (ids ``step5.*``).

One module per notebook: ``convolution`` (01), ``lenet`` (02), ``alexnet`` (03), ``shift`` (04).
Importing this package registers every step-5 checker.
"""

from . import alexnet, convolution, lenet, shift

__all__ = ["alexnet", "convolution", "lenet", "shift"]
