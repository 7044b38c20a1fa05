"""Checkers for step 7, "Further Topics" (ids ``step7.*``).

One module per notebook. Importing this package registers every step-7 checker; no module
imports TensorFlow until a checker runs.
"""

from . import (
    autoencoders,  # noqa: F401  (03_autoencoders)
    cells,  # noqa: F401  (01_lstm_gru_by_hand; importing registers the checkers)
    gan,  # noqa: F401  (04_gan)
    gates,  # noqa: F401  (02_why_gates_matter)
    gradients,  # noqa: F401  (02_why_gates_matter: the gradient exercises)
    rbm,  # noqa: F401  (05_rbm)
)
