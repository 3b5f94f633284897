"""The always-visible line: where am I, who am I, and how fresh is what I see."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from config.catalogue import msg
from ui.tui.fmt import ago, hhmm, short_age

# Pills with their own colours, >= 4.5:1 whatever the theme (tests/ui/test_contrast.py).
ONLINE_STYLE = "bold #000000 on #3fb950"
OFFLINE_STYLE = "bold #ffffff on #b00020"


def compact_status(status: dict[str, Any], *, associate_id: str | None) -> Text:
    """One row for a handheld: who, fresh or not (and since when), unsynced, dead letters."""
    t = Text()
    t.append(associate_id or "-", style="bold cyan" if associate_id else "dim")
    t.append(" ")
    last = status.get("last_feed_success_at")
    if status.get("online"):
        t.append(" ONLINE ", style=ONLINE_STYLE)
    else:
        t.append(" OFFLINE ", style=OFFLINE_STYLE)
        t.append(f" {hhmm(last)}" if last else " " + msg("status.never"))
    outbox = status.get("outbox") or {}
    pending = outbox.get("pending", 0)
    t.append(f" ↑{pending}", style="bold yellow" if pending else "")
    dead = outbox.get("dead_letters", 0)
    if dead:
        t.append(" ")
        t.append(f"DLQ {dead}", style=OFFLINE_STYLE)
    return t


def status_text(status: dict[str, Any], *, station: str, associate: str | None) -> Text:
    t = Text()
    t.append(f" {station} ", style="bold")
    t.append("│ ")
    t.append(associate or "not logged in", style="bold cyan" if associate else "dim")
    t.append(" │ ")
    last = status.get("last_feed_success_at")
    if status.get("online"):
        t.append(" ONLINE ", style=ONLINE_STYLE)
        t.append(f" feed {ago(last)}" if last else "")
    else:
        t.append(" OFFLINE ", style=OFFLINE_STYLE)
        t.append(f" last heard {hhmm(last)} ({ago(last)})" if last else " " + msg("status.never"))
    outbox = status.get("outbox") or {}
    pending = outbox.get("pending", 0)
    t.append(" │ ")
    t.append(f"unsynced {pending}", style="bold yellow" if pending else "")
    if pending:
        t.append(f" ({short_age(outbox.get('oldest_pending_age_s'))} old)")
    dead = outbox.get("dead_letters", 0)
    t.append(" │ ")
    t.append(f"DLQ {dead}", style=OFFLINE_STYLE if dead else "")
    for printer in status.get("printers") or []:
        ok = printer["status"] in ("ready", "unknown", "paper_near_end")
        t.append(" │ ")
        t.append(f"🖶 {printer['id']}: {printer['status']}", style="" if ok else "bold red")
        if printer.get("queued"):
            t.append(f" ({printer['queued']} queued)")
    return t


class StatusBar(Static):
    DEFAULT_CSS = "StatusBar { height: auto; }"

    _shown: Text | None = None

    def show(self, status: dict[str, Any], *, station: str, associate: str | None,
             associate_id: str | None = None) -> None:
        if self.app.size.width < 60:  # a handheld: one row, the freshness kept
            text = compact_status(status, associate_id=associate_id)
            text.truncate(self.app.size.width, overflow="ellipsis")
        else:
            text = status_text(status, station=station, associate=associate)
        if text != self._shown:  # painted every second and on every return to a screen
            self._shown = text
            self.update(text)
