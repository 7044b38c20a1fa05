"""Checkers for step 1, "Introducing Deep Learning": perceptrons, XOR, sigmoid neurons.

Every expected value here is a fact: a truth table (AND, OR, XOR, NAND), the perceptron's
definition (output 1 exactly when w·x + b > 0), the perceptron convergence theorem (the rule
fits any linearly separable data set in finitely many steps), the classic count of linearly
separable Boolean functions (14 of the 16 on two inputs, 104 of the 256 on three), known values
of the logistic function, and the binary digits of 0-9. Data sets are random but seeded, and
generated here so that a learner's function meets them for the first time.
"""

from . import perceptrons, sigmoid_neurons
from .perceptrons import separable_data

__all__ = ["perceptrons", "separable_data", "sigmoid_neurons"]
