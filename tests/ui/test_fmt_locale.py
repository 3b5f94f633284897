"""Dates on screen follow the store's locale, and a hold date says which day."""

from __future__ import annotations

import pytest

from ui.tui import fmt


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    yield
    fmt.set_locale("en_US")
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.mark.parametrize("locale, time_of_day, with_day", [
    ("en_US", "5:52 PM", "Wed, Dec 2 5:52 PM"),
    ("en_GB", "17:52", "Wed 2 Dec 17:52"),
    ("de_DE", "17:52", "Mi., 2. Dez. 17:52"),
])
def test_times_read_the_stores_way(locale, time_of_day, with_day):
    fmt.set_locale(locale)
    stamp = "2026-12-02T17:52:21.416Z"
    assert fmt.hhmm(stamp) == time_of_day
    assert fmt.day_hhmm(stamp) == with_day  # the day is there: "hold until" is not always today
    assert "T17" not in fmt.day_hhmm(stamp)


def test_an_unknown_locale_keeps_the_default():
    fmt.set_locale("xx_NOWHERE")
    assert fmt.hhmm("2026-12-02T17:52:21.416Z") == "5:52 PM"
