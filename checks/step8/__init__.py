"""Checkers for step 8, "What came next: attention and transformers" (ids ``step8.*``).

The epilogue after the article's seven steps. One module per notebook; importing this package
registers every step-8 checker; no module imports TensorFlow until a checker runs.
"""

from . import (
    attention,  # noqa: F401  (02_attention_by_hand; importing registers the checkers)
    block,  # noqa: F401  (03_transformer_block)
    gpt,  # noqa: F401  (04_small_gpt)
    why_attention,  # noqa: F401  (01_why_attention)
)
