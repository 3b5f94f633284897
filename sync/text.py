"""Text from outside is data: no terminal control characters get past the boundary.

Every string the OMS sends (names, descriptions, vehicles, messages, ids) may
end up on a back-room terminal, a handheld's xterm.js or a CLI table. An ESC
or OSC sequence in a customer's name would be a command to that terminal
(clear the screen, set the clipboard, ring the bell), so the contract models
remove C0 and C1 control characters, DEL, and the bidirectional overrides that
can make text read differently from what it is. Line breaks and tabs become a
space: every field is shown on one line.
"""

from __future__ import annotations

import re
from typing import Any

_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f]")
# C0 (except the whitespace above, replaced first), DEL, C1, and the bidi
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """``text`` with control characters removed (tabs and line breaks become spaces)."""
    if text.isprintable():  # the usual case: nothing to do, no regex work
        return text
    return _CONTROLS.sub("", _WHITESPACE_CONTROLS.sub(" ", text))


def reject_controls(text: str) -> str:
    """``text`` unchanged, or ValueError if it holds a control character.

    For identifiers (order, line and change ids, SKUs, pickup codes, cursors):
    stripping would make two different ids one, so a snapshot for
    ``W\u202e1000001`` would overwrite order ``W1000001``. An id is taken as it
    is or not at all.
    """
    if not text.isprintable() and (_CONTROLS.search(text) or _WHITESPACE_CONTROLS.search(text)):
        raise ValueError("contains control characters")
    return text


def visible(text: str) -> str:
    """``text`` with each control character written out (``\\u202e``): a label that is
    safe to show and still tells two different ids apart."""
    if text.isprintable():
        return text
    return "".join(f"\\u{ord(c):04x}" if _CONTROLS.match(c) or _WHITESPACE_CONTROLS.match(c) else c
                   for c in text)


def strip_controls_in(value: Any) -> Any:
    """``strip_controls`` for a string; anything else unchanged (a validator's helper)."""
    return strip_controls(value) if isinstance(value, str) else value
