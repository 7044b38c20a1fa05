"""Checkers for step 2, "Getting Technical": linear algebra by hand, derivatives, the sigmoid,
gradients of many variables, the chain rule and the eigenvalues of a quadratic bowl.

Every expected value here is a fact: a product computed by ``np.matmul``, an analytic
derivative, a known value of the logistic function (computed to 40 digits once), or a
numerical gradient. Inputs are random but seeded, with non-square shapes so that a mix-up
of rows and columns cannot pass by accident.
"""

from . import derivatives, linear_algebra, many_variables

__all__ = ["derivatives", "linear_algebra", "many_variables"]
