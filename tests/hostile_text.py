"""An order whose every string field carries markup and terminal escape sequences.

Text from outside is data: each of these must be shown literally (markup) or
with its control characters removed (escapes), never crash or command a screen.
"""

from __future__ import annotations

from tests.factories import snapshot

ESC, BEL, CSI = "\x1b", "\x07", "\x9b"
CLEAR = f"{ESC}[2J"                      # clear the screen
OSC52 = f"{ESC}]52;c;aGk={BEL}"           # set the terminal's clipboard
ORDER_ID = "W9[b]"                        # ids are strings from outside too: markup shown literally
# (an id with a control character is refused, not cleaned: tests/sync/test_text_boundary.py)
NAME = f"Ann [/x]{BEL}"
VEHICLE = f"[red]Van{CSI}31m"
BAY = "[/]"
DESCRIPTIONS = ("[@click=app.quit]x[/]", f"{OSC52}Bolt")
LINE_IDS = ("L[i]", "L2[/]")
SKU = "S[/b]c"

# What each shows as: markup literally, control characters gone.
SHOWN = {
    "order_id": "W9[b]",
    "name": "Ann [/x]",
    "vehicle": "[red]Van31m",
    "bay": "[/]",
    "descriptions": ("[@click=app.quit]x[/]", "]52;c;aGk=Bolt"),
}


def hostile_snapshot(*, order_id: str = ORDER_ID, version: int = 1, status: str = "released") -> dict:
    snap = snapshot(order_id, version=version, status=status, fulfillment="curbside",
                    arrival={"arrived_at": "2026-11-23T15:30:00Z", "bay": BAY, "vehicle": VEHICLE},
                    hold_until="2099-01-01T20:00:00Z")
    snap["customer"]["name"] = NAME
    for line, description, line_id in zip(snap["lines"], DESCRIPTIONS, LINE_IDS, strict=True):
        line["description"] = description
        line["line_id"] = line_id
        line["sku"] = SKU
    return snap


def has_control_characters(text: str) -> bool:
    """Anything but a line break that a terminal could take as a command."""
    return any(ch != "\n" and (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F) for ch in text)
