"""Checkers for step 3, "Backpropagation and Gradient Descent" (ids ``step3.*``).

One module per notebook: ``descent`` (01), ``mazur`` (02), ``softmax`` (02b), ``network`` and
``hygiene`` (03), ``micrograd`` (04), ``deep`` (05), ``optimisers`` (06). Importing this package
registers every step-3 checker.
"""

from . import deep, descent, hygiene, mazur, micrograd, network, optimisers, softmax

__all__ = ["deep", "descent", "hygiene", "mazur", "micrograd", "network", "optimisers", "softmax"]
