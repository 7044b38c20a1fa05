"""Checkers for step 6, "Recurrent Nets and Language Processing" (ids ``step6.*``).

One module per notebook. Importing this package registers every step-6 checker; no module
imports TensorFlow until a checker runs.
"""

from . import (
    char_rnn,  # noqa: F401  (importing registers the checkers)
    embeddings,  # noqa: F401
    language_model,  # noqa: F401
    ngram,  # noqa: F401
    text_cnn,  # noqa: F401
)
