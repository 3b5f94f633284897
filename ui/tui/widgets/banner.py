"""The cancellation banner: stays on every terminal until someone acknowledges it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class AlertBanner(Static):
    def show(self, alerts: list[dict]) -> None:
        self.display = bool(alerts)
        if not alerts:
            return
        t = Text()
        for alert in alerts[:2]:
            t.append("⚠ ", style="bold")
            t.append(alert["message"])
            t.append("\n")
        if len(alerts) > 2:
            t.append(f"... and {len(alerts) - 2} more\n")
        t.append("F8 acknowledge", style="bold reverse")
        self.update(t)
