"""Every associate-facing text in the catalogue reads as plain words: no machine-room vocabulary."""

from __future__ import annotations

import re

import pytest

from config.catalogue import CATALOGUE, fields_of, msg

# What an associate must never read: an event type (order.staged), a command line or flag,
# a Python None, an ISO timestamp, an enum name (item_unavailable, TO_PICK), a raw HTTP verb+path.
FORBIDDEN = {
    "event name": re.compile(r"\b(order|return|bin|item)\.[a-z_]+\b"),
    "CLI flag": re.compile(r"(^|\s)--?[a-z][a-z-]*"),
    "command line": re.compile(r"store-agent |`"),
    "None": re.compile(r"\bNone\b"),
    "ISO timestamp": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
    "enum name": re.compile(r"\b[a-z]+_[a-z_]+\b|\b[A-Z]+_[A-Z_]+\b"),
    "HTTP request": re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) /"),
}
SAMPLE = {"order": "W1000018", "other": "W1000019", "code": "K7Q9MX", "bin": "B-07", "bins": "B-07",
          "count": 3, "lines": 2, "name": "Dana", "badge": "B100", "gtin": "04006381333931",
          "when": "Wed 2 Dec, 17:52"}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_entry_is_plain_words(key):
    text = msg(key, **{name: SAMPLE.get(name, "Sample") for name in fields_of(key)})
    found = {what: pattern.search(text).group(0) for what, pattern in FORBIDDEN.items()
             if pattern.search(text)}
    assert not found, f"{key}: {text!r} contains {found}"
    assert text.strip() == text and text, f"{key}: empty or padded"


def test_the_walk_can_fail():
    """The patterns catch what the issue found on screens, so the walk above is not vacuous."""
    seen = ["order.staged contradicts the OMS (wrong_state …) (store-agent dlq list)",
            "Confirm the handoff with --yes", "from bin None", "Picked up 2026-12-02T17:52:21.416Z",
            "Reason item_unavailable", "POST /events: ConnectError"]
    for text in seen:
        assert any(p.search(text) for p in FORBIDDEN.values()), text
