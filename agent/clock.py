"""Time in one format everywhere: RFC 3339 UTC with milliseconds, so stored strings sort."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    # Formatted by hand: strftime("%Y") does not zero-pad years before 1000 on glibc.
    m = moment.astimezone(UTC)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
            f".{m.microsecond // 1000:03d}Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def age_s(text: str | None, now: datetime) -> float | None:
    return None if text is None else max(0.0, (now - parse_iso(text)).total_seconds())


def describe_age(seconds: float | None) -> str:
    """'7 min ago' for people; None means we never heard."""
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"
