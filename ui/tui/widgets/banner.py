"""The alert banner: cancellations stay on every terminal until someone acknowledges them
(F8); every other open alert (credentials, stuck outbox, disk, printers, quarantine,
conflicts...) is named on one line until its condition clears by itself."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

_RANK = {"critical": 0, "warning": 1}


def banner_text(cancellations: list[dict], others: list[dict]) -> Text | None:
    if not cancellations and not others:
        return None
    t = Text()
    for alert in cancellations[:2]:
        t.append("⚠ ", style="bold")
        t.append(alert["message"])
        t.append("\n")
    if len(cancellations) > 2:
        t.append(f"... and {len(cancellations) - 2} more\n")
    if others:
        worst = sorted(others, key=lambda a: (_RANK.get(a.get("severity"), 2), a["id"]))
        first = worst[0]
        t.append("⚠ ", style="bold")
        t.append(first["message"], style="bold" if first.get("severity") == "critical" else "")
        if len(worst) > 1:
            t.append(f" (+{len(worst) - 1} more alerts: store IT sees them in `store-agent status`)")
        t.append("\n")
    if cancellations:
        t.append("F8 acknowledge", style="bold reverse")
    t.rstrip()
    return t


class AlertBanner(Static):
    _shown: tuple | None = None

    def show(self, alerts: list[dict], others: list[dict] | None = None) -> None:
        """``alerts``: unacknowledged cancellations; ``others``: every other open alert."""
        others = others or []
        key = ([a["id"] for a in alerts], [(a["id"], a["message"]) for a in others])
        if key == self._shown:  # painted every second and on every return to a screen
            return
        self._shown = key
        text = banner_text(alerts, others)
        self.display = text is not None
        if text is not None:
            self.update(text)
