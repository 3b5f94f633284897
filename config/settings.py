"""The configuration models: one pydantic model per table of config.toml.

Every field carries a one-line docstring. ``config.template`` turns those
docstrings into ``config init``'s commented template and into
``docs/configuration.md``, so the documentation cannot drift from the code.
Every model forbids unknown keys: a typo in a store's config is an error, not
a silently ignored setting.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.vocabulary import OrderState

# The status map's targets are the store's order states (config.vocabulary).
StoreState = OrderState

DEFAULT_CONFIG_PATH = Path("/etc/store-agent/config.toml")
ENV_PREFIX = "STORE_AGENT_"
ENV_NESTED_DELIMITER = "__"
# The name of the systemd credential holding the webhook URL ($CREDENTIALS_DIRECTORY/webhook_url).
WEBHOOK_CREDENTIAL = "webhook_url"

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


class MedusaSettings(BaseModel):
    model_config = _STRICT

    stock_location_id: str = Field("", max_length=64)
    """Medusa stock location of this store (sloc_...); it holds a fulfillment set of type pickup."""
    sales_channel_id: str = Field("", max_length=64)
    """Medusa sales channel of this store (sc_...); only its orders with a pickup method are ours."""
    shipping_option_ids: list[str] = Field(default_factory=list)
    """Pickup shipping options (so_...) that release an order here; empty: those of the location."""
    poll_s: float = Field(2.0, gt=0, le=30)
    """Medusa has no long poll: seconds between order queries while the feed waits for news."""


class OmsSettings(BaseModel):
    model_config = _STRICT

    kind: Literal["store-sync-v1", "medusa"] = "store-sync-v1"
    """Which OMS this is: store-sync-v1 (the Store Sync API) or medusa (Medusa v2 admin API)."""
    url: str = "https://oms.example.com"
    """Base URL of the Store Sync API, or of the Medusa server (https in production)."""
    token: SecretStr | None = None
    """Bearer token of this store (for medusa: a secret API key, sk_...); token_file keeps it out of here."""
    token_file: Path | None = None
    """File holding the bearer token, instead of token (re-read when it changes, and on SIGHUP)."""
    timeout_s: float = Field(10.0, gt=0, le=120)
    """Overall deadline of one request to the OMS, in seconds."""
    ca_bundle: Path | None = None
    """PEM bundle of the CA that signs the OMS certificate, when not a public CA."""
    client_cert: Path | None = None
    """PEM file with this store's client certificate and key, for mutual TLS."""
    medusa: MedusaSettings = Field(default_factory=MedusaSettings)
    """Where this store lives in Medusa; used only when kind is medusa (docs/medusa.md)."""
    allow_insecure_http: bool = False
    """Send the token over plain http:// to a non-loopback OMS (a lab only: anyone on the path reads it)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with https:// (or http:// for a local test OMS)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_token_source(self) -> OmsSettings:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set oms.token or oms.token_file, not both")
        if (self.url.startswith("http://") and (self.token or self.token_file)
                and not self.allow_insecure_http and not _is_loopback_url(self.url)):
            raise ValueError("oms.url is http:// and would send the token in clear: use https://"
                             " (or set oms.allow_insecure_http = true for a lab OMS)")
        if self.kind == "medusa" and not (self.medusa.stock_location_id and self.medusa.sales_channel_id):
            raise ValueError("oms.kind = medusa needs oms.medusa.stock_location_id and sales_channel_id")
        return self


def _is_loopback_url(url: str) -> bool:
    """True for http://127.x, [::1] and localhost: a token to this machine crosses no network."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StorageSettings(BaseModel):
    model_config = _STRICT

    path: Path = Path("/var/lib/store-agent/agent.db")
    """The SQLite database file: the store's truth. Its directory must be writable."""
    backup_dir: Path | None = None
    """Where the nightly backups go; unset means a backups/ directory beside the database."""
    backup_at: str = Field("03:15", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    """Local time (HH:MM) of the nightly backup; a missed one runs 10 min after the daemon starts."""
    backup_keep: int = Field(7, ge=1, le=365)
    """How many nightly backups are kept; older ones are deleted after a successful backup."""
    offsite_dir: Path | None = None
    """A second place for each nightly backup: a mounted path (NAS share, USB disk) off this disk."""
    offsite_keep: int = Field(14, ge=1, le=3650)
    """How many nightly backups are kept in offsite_dir; older ones are deleted there."""
    offsite_rsync: str | None = Field(None, min_length=1, max_length=500)
    """rsync target (host:/path/ or rsync://...) mirroring the backup folder, retention included."""
    retention_days: int = Field(90, ge=7, le=3650)
    """Acknowledged events and applied changes older than this are purged after a nightly backup."""


class SyncSettings(BaseModel):
    model_config = _STRICT

    batch_size: int = Field(500, ge=1, le=500)
    """Most events sent in one POST /events (the contract allows 1-500)."""
    long_poll_s: int = Field(25, ge=0, le=30)
    """How long one change-feed request waits at the OMS for news, in seconds."""
    heartbeat_s: int = Field(60, ge=5, le=3600)
    """Seconds between heartbeats to the OMS."""
    reconcile_every_min: int = Field(15, ge=1, le=1440)
    """Minutes between full comparisons of the store's orders with the OMS."""
    credentials_retry_s: int = Field(60, ge=1, le=3600)
    """After a 401/403, seconds between quiet retries; a changed token is used at once."""


class PickupSettings(BaseModel):
    model_config = _STRICT

    offline_handoff: Literal["allow", "warn", "manager"] = "warn"
    """When the OMS cannot be asked at handoff: allow, warn (associate confirms), or manager."""
    max_offline_staleness_min: int = Field(15, ge=0, le=10080)
    """Older store data than this turns the warn policy into manager, in minutes."""
    live_check_timeout_s: float = Field(1.5, gt=0, le=30)
    """How long a handoff waits for the OMS to confirm the order, in seconds."""
    bin_pattern: str = r"^[A-Z0-9][A-Z0-9-]{0,15}$"
    """Regular expression every bin id must match, whole (see ``is_bin_id``)."""
    max_hold_extension_h: int = Field(72, ge=0, le=24 * 60)
    """order extend-hold: the new hold may end at most this many hours from now (0: never)."""

    @field_validator("bin_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc.msg})") from None
        return value

    def is_bin_id(self, text: str) -> bool:
        """The one rule for a bin id, wherever it is checked: the whole text matches
        ``bin_pattern`` (``re.fullmatch``; so "B-07\\n" is no bin, whatever ``$`` allows)."""
        return re.fullmatch(self.bin_pattern, text) is not None


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc.msg})") from None
    return value


class PickingSettings(BaseModel):
    """Item-level picking (API 1.1): how each item is verified on the way to the bin."""

    model_config = _STRICT

    verify: Literal["scan", "quantity", "off"] = "scan"
    """scan: every unit is scanned; quantity: the associate confirms a count per line; off: neither."""
    print_bin_labels: bool = False
    """Staging prints one label per bin (tote), "n of m", on the station's printer."""


class HandoffSettings(BaseModel):
    """The evidence a pickup records (API 1.1), so a chargeback can be answered from the OMS."""

    model_config = _STRICT

    id_check_for_alternate: bool = False
    """An alternate pickup person (named on the order) must show an ID, recorded with the pickup."""
    signed_acknowledgment: bool = False
    """The customer signs a printed acknowledgment; the pickup records that it was signed."""
    allow_alternate: bool = True
    """Someone the customer named on the order (alternate_pickup) may collect it."""


class ScanningSettings(BaseModel):
    """How scans are recognised. A pattern must match the whole scan; the kind a screen is
    waiting for wins (a stage dialog reads B7 as a bin, a pickup dialog reads A1234 as a code)."""

    model_config = _STRICT

    order_pattern: str = r"W[0-9]{5,12}|order_[0-9A-Z]{26}"
    """Order labels: W + 5-12 digits, or a Medusa order id (order_ + 26 characters)."""
    bin_pattern: str = r"[A-Z]{1,2}-[0-9]{1,3}|B[0-9]{1,3}|BIN-?[0-9]{1,4}"
    """Bin labels scanned anywhere: B-07, AA-112, B7, BIN-12."""
    badge_pattern: str = r"[AM][0-9]{3,6}"
    """Associate badges: A or M + 3-6 digits."""
    pickup_code_pattern: str = r"[A-Z0-9]{4,16}"
    """Customer pickup codes (the Store Sync API allows 4-16 letters or digits)."""
    fold_case: bool = True
    """Match case-insensitively (a wedge with Caps Lock on); values are upper-cased."""
    serial_terminators: str = "\r\n"
    """Bytes that end a scan on a serial scanner; any one of them ends it (TOML escapes: "\\r\\n")."""

    _patterns = field_validator("order_pattern", "bin_pattern", "badge_pattern",
                                "pickup_code_pattern")(_regex)

    @field_validator("serial_terminators")
    @classmethod
    def _ascii_terminators(cls, value: str) -> str:
        if not value or not value.isascii():
            raise ValueError("give one or more ASCII characters, e.g. \"\\r\\n\" or \"\\t\"")
        return value


class Associate(BaseModel):
    model_config = _STRICT

    id: str = Field(min_length=1, max_length=64)
    """Associate id, as typed or scanned from the badge."""
    name: str = Field(min_length=1, max_length=100)
    """Name shown on screens and receipts."""
    role: Literal["associate", "manager"] = "associate"
    """associate or manager; only managers override, retry or discard."""
    pin_hash: SecretStr | None = None
    """Legacy: PINs now live in the database (`associate set-pin`); a hash here is imported once."""


class Printer(BaseModel):
    model_config = _STRICT

    id: str = Field(min_length=1, max_length=64)
    """Printer id, referenced by stations and `print test`."""
    kind: Literal["network", "serial", "usb", "file"] = "network"
    """How the printer is reached: network, serial, usb or file."""
    address: str = Field(min_length=1)
    """host:port, device path, or usb vendor:product."""
    profile: str = "default"
    """python-escpos printer profile, e.g. TM-T88V."""


class Station(BaseModel):
    model_config = _STRICT

    id: str = Field(min_length=1, max_length=64)
    """Station id, recorded as device_id on every event made there."""
    scanner: str = "keyboard"
    """keyboard, a device path, or a pyserial URL (socket://, rfc2217://)."""
    printer: str | None = None
    """Id of the printer this station prints to."""


class MetricsSettings(BaseModel):
    model_config = _STRICT

    listen: str = "127.0.0.1:9464"
    """host:port of the Prometheus endpoint; empty turns it off."""
    tls_cert: Path | None = None
    """PEM certificate for /metrics; with tls_key the endpoint speaks HTTPS only."""
    tls_key: Path | None = None
    """PEM private key matching tls_cert (mode 0600)."""
    basic_auth_user: str | None = None
    """User name a scraper must send (HTTP basic auth); with basic_auth_password_file."""
    basic_auth_password_file: Path | None = None
    """File (mode 0600) holding the password for basic_auth_user."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if value and (not sep or not port.isdigit() or not 0 <= int(port) < 65536):
            raise ValueError("must be host:port (e.g. 127.0.0.1:9464), or empty to turn metrics off")
        return value

    @model_validator(mode="after")
    def _pairs(self) -> MetricsSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("metrics.tls_cert and metrics.tls_key go together")
        if (self.basic_auth_user is None) != (self.basic_auth_password_file is None):
            raise ValueError("metrics.basic_auth_user and metrics.basic_auth_password_file go together")
        return self


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


DEFAULT_STATUS_MAP: dict[str, StoreState] = {
    "released": OrderState.TO_PICK,
    "ready_for_pickup": OrderState.READY,
    "picked_up": OrderState.PICKED_UP,
    "cancelled": OrderState.CANCELLED,
}


class Settings(BaseSettings):
    """The whole configuration of one store's agent."""

    model_config = SettingsConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
    )

    store_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    """This store's id at the OMS; every API path is under /v1/stores/{store_id}."""
    station: str | None = None
    """Default station of this PC; without it, the first [[stations]] entry."""
    oms: OmsSettings = Field(default_factory=OmsSettings)
    """The central OMS and how to reach it."""
    storage: StorageSettings = Field(default_factory=StorageSettings)
    """Where the store's truth is kept."""
    sync: SyncSettings = Field(default_factory=SyncSettings)
    """How the agent talks to the OMS."""
    pickup: PickupSettings = Field(default_factory=PickupSettings)
    """Handoff rules."""
    picking: PickingSettings = Field(default_factory=PickingSettings)
    """Item-level picking: scan-to-verify policy and bin labels."""
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    """What a pickup must record as evidence (ID checks, alternate person, signed acknowledgment)."""
    status_map: dict[str, StoreState] = Field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))
    """OMS status -> store state; a status not listed is quarantined, never guessed."""
    associates: list[Associate] = Field(default_factory=list)
    """The roster: who may act, and who is a manager."""
    printers: list[Printer] = Field(default_factory=list)
    """Receipt and label printers."""
    stations: list[Station] = Field(default_factory=list)
    """Terminals and handhelds with their scanner and printer."""
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    """Prometheus metrics."""
    ui: UiSettings = Field(default_factory=UiSettings)
    """The associate UI served to handheld browsers."""
    scanning: ScanningSettings = Field(default_factory=ScanningSettings)
    """Barcode formats of this store's labels, and how serial scanners end a scan."""
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    """Where alerts go besides the screens and the log."""
    sla: SlaSettings = Field(default_factory=SlaSettings)
    """Service targets: when an open order is nearing or late, and when waits escalate."""
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    """PIN length, and how many wrong PINs and pickup codes lock for how long (docs/security.md)."""

    @model_validator(mode="after")
    def _references_resolve(self) -> Settings:
        for name, items in (
            ("associates", self.associates),
            ("printers", self.printers),
            ("stations", self.stations),
        ):
            ids = [item.id for item in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{name}: duplicate id {', '.join(dupes)}")
        printer_ids = {p.id for p in self.printers}
        for station in self.stations:
            if station.printer is not None and station.printer not in printer_ids:
                raise ValueError(
                    f"stations: station {station.id} names printer {station.printer!r},"
                    " which is not in [[printers]]"
                )
        if self.station is not None and self.station not in {s.id for s in self.stations}:
            raise ValueError(f"station: {self.station!r} is not in [[stations]]")
        return self

    # --- derived values -------------------------------------------------
    @property
    def default_station(self) -> str:
        if self.station:
            return self.station
        return self.stations[0].id if self.stations else "cli"

    def associate(self, associate_id: str) -> Associate | None:
        return next((a for a in self.associates if a.id == associate_id), None)

    def station_by_id(self, station_id: str | None) -> Station | None:
        """The configured station, or None (a CLI or a station not in [[stations]])."""
        return next((s for s in self.stations if s.id == station_id), None)

    def alert_webhook_url(self) -> str | None:
        """The webhook URL: a systemd credential (LoadCredential=webhook_url:...), else the file,
        else the inline value. Read at each use, so a rotated file or credential applies at once."""
        credentials = self.__dict__.get("credentials_dir")
        if credentials:
            candidate = Path(credentials) / WEBHOOK_CREDENTIAL
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8").strip() or None
        if self.alerts.webhook_url_file is not None:
            try:
                return self.alerts.webhook_url_file.read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        return self.alerts.webhook_url

    def oms_token(self) -> str | None:
        """The bearer token, read from token_file when that is how it is given."""
        if self.oms.token is not None:
            return self.oms.token.get_secret_value()
        if self.oms.token_file is not None:
            return self.oms.token_file.read_text(encoding="utf-8").strip()
        return None
