"""The tables of config.toml about the OMS, the store's data and its devices: [oms], [storage],
[sync], [pickup], [picking], [handoff], [scanning], [[associates]], [[printers]], [[stations]],
[metrics]. Every field's docstring becomes the template and docs/configuration.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from config.addresses import is_loopback, split_host_port

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
    return is_loopback(urlsplit(url).hostname or "")


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

    LISTEN_HOST: ClassVar[str] = "0.0.0.0"  # for a listen of ":9464": every interface

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            try:
                split_host_port(value, default_host=cls.LISTEN_HOST)
            except ValueError:
                raise ValueError("must be host:port (e.g. 127.0.0.1:9464), or empty to turn metrics off"
                                 ) from None
        return value

    def host_port(self) -> tuple[str, int]:
        """Where /metrics listens, read as the check at load read it ('' is refused: metrics off)."""
        return split_host_port(self.listen, default_host=self.LISTEN_HOST)

    @model_validator(mode="after")
    def _pairs(self) -> MetricsSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("metrics.tls_cert and metrics.tls_key go together")
        if (self.basic_auth_user is None) != (self.basic_auth_password_file is None):
            raise ValueError("metrics.basic_auth_user and metrics.basic_auth_password_file go together")
        return self
