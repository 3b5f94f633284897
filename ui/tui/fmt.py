"""How times and ages read on a small screen: local wall-clock time in the store's locale
([ui] locale, CLDR patterns through Babel: "5:52 PM" in en_US, "17:52" in de_DE), short ages."""

from __future__ import annotations

from datetime import datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time

from agent.clock import age_s, describe_age, parse_iso, utc_now

_locale = Locale.parse("en_US")


def set_locale(name: str) -> None:
    """The store's locale for every date on screen; an unknown one keeps the default."""
    global _locale
    try:
        _locale = Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        _locale = Locale.parse("en_US")


def hhmm(text: str | None) -> str:
    """Time of day, the locale's way (12 or 24 hours)."""
    if not text:
        return "-"
    return _spaces(format_time(parse_iso(text).astimezone(), "short", locale=_locale))


def day_hhmm(text: str | None) -> str:
    """Weekday, day, month and time: "Wed, Dec 2 5:52 PM" (a hold date says which day)."""
    if not text:
        return "-"
    moment = parse_iso(text).astimezone()
    return f"{_spaces(format_skeleton('MMMEd', moment, locale=_locale))} {hhmm(text)}"


def _spaces(text: str) -> str:
    """CLDR's narrow no-break spaces as plain ones: some terminal fonts draw them too wide."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


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
