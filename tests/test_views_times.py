"""Times shown to a learner are in their own time zone, and the zone is named."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from dl7.views import local_time, local_zone


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def test_a_stored_utc_time_is_shown_in_local_time(zone: Callable[[str], None]) -> None:
    zone("Asia/Kolkata")
    assert local_time("2026-12-07T05:56:00+00:00") == "12-07 11:26"
    assert local_zone() == "local time (IST)"
    zone("UTC")
    assert local_time("2026-12-07T05:56:00+00:00") == "12-07 05:56"
    assert local_zone() == "local time (UTC)"


def test_a_time_dl7_did_not_write_is_shown_as_it_is() -> None:
    assert local_time("yesterday") == "yesterday"
