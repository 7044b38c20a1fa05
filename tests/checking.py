"""Helpers for testing checkers both ways (the learntools idea, without its globals)."""

from __future__ import annotations

from typing import Any

from dl7.checks import CheckResult


def stub(*args: Any, **kwargs: Any) -> Any:
    """What a learner's untouched exercise does."""
    raise NotImplementedError


def expect_failed(result: CheckResult, *fragments: str) -> None:
    """The check failed, and its message says each of ``fragments``."""
    assert result.status == "failed", result
    for fragment in fragments:
        assert fragment in result.message, result.message
