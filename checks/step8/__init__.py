"""Checkers for step 8, "What came next: attention and transformers" (ids ``step8.*``).

The epilogue after the article's seven steps. One module per notebook; importing this package
registers every step-8 checker; no module imports TensorFlow until a checker runs.
"""
