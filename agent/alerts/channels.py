"""Alert channels through apprise: Slack, Teams, e-mail, SMS and dozens more from one URL list.

``[alerts] channels`` lists apprise URLs. An entry may start with the
severities it wants, in apprise's own tag syntax: ``"critical=mailto://..."``
or ``"warning,critical=slack://..."``; an entry without them gets every
alert. Each alert's "raised" and "resolved" go to the channels of its
severity.

Channel URLs carry tokens and passwords, so none is ever logged or put in an
error: a channel is named by its position and scheme ("channel 2
(mailto)"), and apprise's own log lines, which quote recipients and hosts,
are withheld (only their level and the plugin's module are kept).
Delivery to each channel is tracked on its own (agent/alerts/notify.py), by
a key derived from the URL that does not reveal it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from config.settings import Settings, split_channel_entry

log = logging.getLogger("store_agent.alerts")



class _Withheld(logging.Filter):
    """apprise logs recipients, hosts and sometimes URLs: keep that a line happened, not what it said."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = f"apprise ({record.module}): {record.levelname.lower()} (details withheld:" \
                     " they may name a channel's address or credentials)"
        record.args = ()
        return record.levelno >= logging.WARNING


_apprise_log = logging.getLogger("apprise")
if not any(isinstance(f, _Withheld) for f in _apprise_log.filters):
    _apprise_log.addFilter(_Withheld())


@dataclass(frozen=True)
class Channel:
    index: int                  # 1-based position in [alerts] channels
    scheme: str                 # mailto, slack, json, ...
    severities: frozenset[str]
    key: str                    # stable, URL-free id for delivery bookkeeping
    plugin: Any = None          # apprise's NotifyBase; None when apprise refused the URL

    @property
    def name(self) -> str:
        return f"channel {self.index} ({self.scheme})"


def channel_key(url: str) -> str:
    return "apprise:" + hashlib.sha256(url.encode()).hexdigest()[:16]


_LOADED: dict[tuple[str, ...], list[Channel]] = {}


def load_channels(settings: Settings) -> list[Channel]:
    """The configured channels; one apprise cannot use is kept with plugin None (and logged once).

    Built once per list of URLs: delivery runs every 30 s, and a bad URL is said once.
    """
    entries = tuple(s.get_secret_value() for s in settings.alerts.channels)
    if not entries:
        return []
    if entries not in _LOADED:
        _LOADED.clear()  # a changed config replaces the old channels
        _LOADED[entries] = _build(entries)
    return _LOADED[entries]


def _build(entries: tuple[str, ...]) -> list[Channel]:
    import apprise  # only stores with channels pay for loading apprise's plugins

    out = []
    for index, entry in enumerate(entries, start=1):
        severities, url = split_channel_entry(entry)
        scheme = url.split("://", 1)[0].lower() if "://" in url else "?"
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        channel = Channel(index, scheme, severities, channel_key(url), plugin)
        if plugin is None:
            log.error("alert %s: apprise cannot use this URL (unknown scheme or missing parts);"
                      " see docs/monitoring.md#alert-channels", channel.name)
        out.append(channel)
    return out


async def send(channel: Channel, *, title: str, body: str, severity: str, event: str) -> bool:
    """One message to one channel; True when apprise says it was delivered."""
    if channel.plugin is None:
        return False
    import apprise

    kind = (apprise.NotifyType.SUCCESS if event == "resolved" else
            apprise.NotifyType.FAILURE if severity == "critical" else apprise.NotifyType.WARNING)
    try:
        # apprise's plugins block (smtplib, requests): off the daemon's event loop.
        return bool(await asyncio.to_thread(channel.plugin.notify, body=body, title=title,
                                            notify_type=kind))
    except Exception as exc:  # a plugin bug must not stop the other channels
        log.warning("alert %s: apprise failed (%s)", channel.name, type(exc).__name__)
        return False
