"""How times and ages read on a small screen: local wall-clock time, short ages."""

from __future__ import annotations

from datetime import datetime

from agent.clock import age_s, describe_age, parse_iso, utc_now


def hhmm(text: str | None) -> str:
    if not text:
        return "-"
    return parse_iso(text).astimezone().strftime("%H:%M")


def day_hhmm(text: str | None) -> str:
    if not text:
        return "-"
    return parse_iso(text).astimezone().strftime("%d %b %H:%M")


def window(start: str | None, end: str | None) -> str:
    if not start:
        return "-"
    return f"{day_hhmm(start)}-{hhmm(end)}"


def ago(text: str | None, now: datetime | None = None) -> str:
    return describe_age(age_s(text, now or utc_now()))


def short_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{int(seconds)}s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)}m"
    return f"{seconds / 3600:.1f}h"


def short_wait(seconds: float) -> str:
    """How long someone has waited, in whole minutes once past the first one."""
    if seconds < 60:
        return f"{int(seconds)} s"
    return f"{int(seconds // 60)} min"


def refusal(exc: Exception) -> str:
    """A refusal or a storage failure as the dialog's error line, saying nothing changed once."""
    text = str(exc)
    return text if "nothing was changed" in text or "nothing changed" in text \
        else f"{text}; nothing changed"
