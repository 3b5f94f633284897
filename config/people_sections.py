"""The tables of config.toml about the people around the store PC: [ui], [security], [alerts]
(and its channels), [sla]. Every field's docstring becomes the template and the docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from config.addresses import split_host_port

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


Bell = Literal["arrival", "late", "new_order"]
ALL_BELLS: tuple[Bell, ...] = ("arrival", "late", "new_order")


class UiSettings(BaseModel):
    model_config = _STRICT

    listen: str = "127.0.0.1:8470"
    """host:port where `serve-ui` serves handheld browsers; loopback unless changed."""
    tls_cert: Path | None = None
    """PEM certificate for serve-ui; with tls_key, the UI is served over HTTPS."""
    tls_key: Path | None = None
    """PEM private key matching tls_cert."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Origins a browser may connect from; empty allows only the listen address itself."""
    idle_logout_s: int = Field(300, ge=30, le=86400)
    """Seconds without input after which an associate is logged out."""
    bells: list[Bell] = Field(default_factory=lambda: list(ALL_BELLS))
    """What rings the bell and shows a note: check-in, late order, new order ([] for none)."""
    locale: str = "en_US"
    """How dates and times read on screens and slips (a CLDR locale such as en_GB, de_DE, fr_CA)."""
    max_sessions: int = Field(20, ge=1, le=500)
    """Most serve-ui sessions at once (each runs its own UI process); a login beyond it is refused."""
    handheld_ids: list[str] = Field(default_factory=list)
    """Device ids for serve-ui sessions, in turn (e.g. asset tags); empty: handheld-1, handheld-2, ..."""

    LISTEN_HOST: ClassVar[str] = "127.0.0.1"  # for a listen of ":8470": loopback

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        try:
            split_host_port(value, default_host=cls.LISTEN_HOST)
        except ValueError:
            raise ValueError("must be host:port (e.g. 127.0.0.1:8470)") from None
        return value

    def host_port(self) -> tuple[str, int]:
        """Where serve-ui listens, read as the check at load read it."""
        return split_host_port(self.listen, default_host=self.LISTEN_HOST)


class SecuritySettings(BaseModel):
    model_config = _STRICT

    pin_min_length: int = Field(6, ge=4, le=12)
    """Fewest digits `associate set-pin` accepts for a new PIN (PINs set before keep working)."""
    pin_max_failures: int = Field(5, ge=1, le=100)
    """Wrong PINs in a row for one associate id (any terminal, serve-ui, the CLI) before it is locked."""
    pin_lockout_s: int = Field(60, ge=1, le=86400)
    """First PIN lockout in seconds; each further one doubles, up to lockout_max_s."""
    code_max_failures_per_order: int = Field(5, ge=1, le=100)
    """Wrong pickup codes for one order before its code entry is locked (a manager override still works)."""
    code_max_failures_per_station: int = Field(10, ge=1, le=1000)
    """Wrong pickup codes at one station (any order) before code entry there is locked."""
    code_lockout_s: int = Field(300, ge=1, le=86400)
    """First pickup-code lockout in seconds; each further one doubles, up to lockout_max_s."""
    lockout_max_s: int = Field(3600, ge=1, le=7 * 86400)
    """Longest lockout, in seconds."""
    forget_after_h: int = Field(24, ge=1, le=24 * 30)
    """Hours without a wrong attempt after which an id, order or station starts afresh."""


ALERT_SEVERITIES = ("warning", "critical")
_TAGGED_CHANNEL = re.compile(r"^\s*([A-Za-z, ]+?)\s*=\s*([A-Za-z0-9+.-]+://.*)$", re.DOTALL)


def split_channel_entry(entry: str) -> tuple[frozenset[str], str]:
    """``"warning,critical=URL"`` -> ({warning, critical}, URL); a bare URL gets every severity.

    apprise's own tag syntax. Raises ValueError that never quotes the entry (it holds secrets).
    """
    match = _TAGGED_CHANNEL.match(entry)
    if match is None:
        url = entry.strip()
        if not re.match(r"^[A-Za-z0-9+.-]+://\S", url):
            raise ValueError("not an apprise URL (scheme://...), optionally after \"critical=\"")
        return frozenset(ALERT_SEVERITIES), url
    wanted = frozenset(t.strip().lower() for t in match.group(1).split(",") if t.strip())
    unknown = sorted(wanted - set(ALERT_SEVERITIES))
    if unknown or not wanted:
        raise ValueError(f"unknown severity {', '.join(unknown) or '(none)'}"
                         f" (use {' or '.join(ALERT_SEVERITIES)})")
    return wanted, match.group(2).strip()


class AlertsSettings(BaseModel):
    model_config = _STRICT

    webhook_url: str | None = None
    """Where alerts are POSTed as JSON (Slack- and Teams-compatible); a secret: prefer webhook_url_file."""
    webhook_url_file: Path | None = None
    """File holding the webhook URL instead (mode 0600); a systemd credential webhook_url wins over both."""
    channels: list[SecretStr] = Field(default_factory=list)
    """apprise URLs alerts also go to (mailto://, slack://, json://...); "critical=URL" routes by severity."""
    dead_letter_after_min: int = Field(15, ge=1, le=10080)
    """Alert when a dead letter stays unresolved this many minutes."""
    pending_age_min: int = Field(10, ge=1, le=10080)
    """Alert when the oldest pending event is this old while the OMS is reachable, in minutes."""
    printer_not_ready_min: int = Field(5, ge=1, le=10080)
    """Alert when a configured printer has not been ready for this many minutes."""
    disk_free_pct: float = Field(10.0, gt=0, lt=100)
    """Alert when the database's file system has less free space than this, in percent."""
    reconcile_mismatches_per_hour: int = Field(5, ge=1, le=100000)
    """Critical alert when reconciliation finds more differences than this within an hour."""
    oms_unreachable_warning_min: int = Field(5, ge=1, le=10080)
    """Warning when the OMS has not answered for this many minutes (no contact at all)."""
    oms_unreachable_critical_min: int = Field(30, ge=1, le=10080)
    """The same alert turns critical after this many minutes."""
    credentials_refused_warning_min: int = Field(1, ge=1, le=10080)
    """Warning when the OMS has refused this store's token (401/403) for this many minutes."""
    credentials_refused_critical_min: int = Field(10, ge=1, le=10080)
    """The same alert turns critical after this many minutes."""
    feed_stalled_warning_min: int = Field(10, ge=1, le=10080)
    """Warning when the change feed has not advanced (no page read) for this many minutes."""
    feed_stalled_critical_min: int = Field(30, ge=1, le=10080)
    """The same alert turns critical after this many minutes."""

    @model_validator(mode="after")
    def _critical_after_warning(self) -> AlertsSettings:
        for name in ("oms_unreachable", "credentials_refused", "feed_stalled"):
            if getattr(self, f"{name}_critical_min") < getattr(self, f"{name}_warning_min"):
                raise ValueError(f"{name}_critical_min must not be less than {name}_warning_min")
        return self

    @field_validator("channels")
    @classmethod
    def _channel_urls(cls, value: list[SecretStr]) -> list[SecretStr]:
        for n, entry in enumerate(value, start=1):
            try:
                split_channel_entry(entry.get_secret_value())
            except ValueError as exc:  # the message never quotes the entry: it holds secrets
                raise ValueError(f"entry {n}: {exc}") from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_http_url(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with https:// (or http://)")
        return value or None


class SlaSettings(BaseModel):
    """The store's service targets: queue timers, escalations and the KPI screen's target lines."""

    model_config = _STRICT

    ready_within_min: int = Field(15, ge=1, le=1440)
    """Minutes from release to the store to READY, when the OMS snapshot has no promised_ready_at."""
    nearing_min: int = Field(5, ge=0, le=1440)
    """An open order is 'nearing' its target this many minutes before it, then 'late'."""
    on_time_target_pct: float = Field(95.0, gt=0, le=100)
    """Target share of orders READY by their target, in percent (a line on the KPI charts)."""
    pickup_conversion_target_pct: float = Field(95.0, gt=0, le=100)
    """Target share of READY orders that are collected, in percent (a line on the KPI charts)."""
    late_order_escalate_min: int = Field(0, ge=0, le=10080)
    """Minutes past its target before a late order is put on the banner (0: as soon as it is late)."""
    return_within_min: int = Field(30, ge=1, le=10080)
    """Minutes a return-to-shelf task may stay open before it is put on the banner."""
    curbside_wait_min: int = Field(5, ge=1, le=1440)
    """Minutes a checked-in curbside customer may wait before the wait is put on the banner."""
    channel_after_min: int = Field(5, ge=0, le=1440)
    """Minutes an escalation stays on the banner, unacknowledged, before it goes to the alert channels."""
