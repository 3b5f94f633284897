"""The alert banner: cancellations stay on every terminal until someone acknowledges them
(F8); every other open alert (credentials, stuck outbox, disk, printers, quarantine,
conflicts...) is named on one line until its condition clears by itself."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from config.catalogue import CATALOGUE, msg

_RANK = {"critical": 0, "warning": 1}


def alert_words(alert: dict[str, Any]) -> str:
    """The alert in an associate's words where the catalogue has them, else as raised."""
    key = f"alert.{alert.get('kind')}"
    if key in CATALOGUE:
        return msg(key, order=alert.get("order_id") or "")
    return str(alert["message"])


def banner_text(cancellations: list[dict[str, Any]], others: list[dict[str, Any]]) -> Text | None:
    """One cancellation in view (the one F8 acknowledges) and a count of the rest; one other alert."""
    if not cancellations and not others:
        return None
    t = Text()
    if cancellations:
        t.append("⚠ ", style="bold")
        t.append(cancellations[0]["message"])
        if len(cancellations) > 1:
            t.append(" " + msg("banner.more_cancelled", count=len(cancellations) - 1))
        t.append("\n")
    if others:
        worst = sorted(others, key=lambda a: (_RANK.get(str(a.get("severity")), 2), a["id"]))
        first = worst[0]
        t.append("⚠ ", style="bold")
        t.append(alert_words(first), style="bold" if first.get("severity") == "critical" else "")
        if len(worst) > 1:
            t.append(" " + msg("banner.more_alerts", count=len(worst) - 1))
        t.append("\n")
    if cancellations:
        t.append(msg("banner.ack"), style="bold reverse")
    t.rstrip()
    return t


def narrow_banner_text(cancellations: list[dict[str, Any]], others: list[dict[str, Any]]) -> Text | None:
    """A handheld: one paragraph of at most two rows (app.tcss): the cancellation in view with
    F8 and a count of the rest first, so its order and bin stay readable; other alerts as a count."""
    if not cancellations and not others:
        return None
    t = Text()
    if cancellations:
        t.append("F8", style="bold reverse")
        t.append(" ⚠ ")
        if len(cancellations) > 1:
            t.append(f"+{len(cancellations) - 1} ", style="bold")
        t.append(cancellations[0]["message"])
        if others:
            t.append(" · ")
    if others:
        t.append(("" if cancellations else "⚠ ") + msg("banner.alert_count", count=len(others)))
    return t


class AlertBanner(Static):
    _shown: tuple[Any, ...] | None = None

    def show(self, alerts: list[dict[str, Any]], others: list[dict[str, Any]] | None = None) -> None:
        """``alerts``: unacknowledged cancellations; ``others``: every other open alert."""
        others = others or []
        key = ([a["id"] for a in alerts], [(a["id"], a["message"]) for a in others],
               self.app.size.width < 60)
        if key == self._shown:  # painted every second and on every return to a screen
            return
        self._shown = key
        width = self.app.size.width
        text = narrow_banner_text(alerts, others) if width < 60 else banner_text(alerts, others)
        self.display = text is not None
        if text is not None:
            self.update(text)
