"""The configuration models: one pydantic model per table of config.toml.

Every field carries a one-line docstring. ``config.template`` turns those
docstrings into ``config init``'s commented template and into
``docs/configuration.md``, so the documentation cannot drift from the code.
Every model forbids unknown keys: a typo in a store's config is an error, not
a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.people_sections import (
    ALERT_SEVERITIES,
    AlertsSettings,
    Bell,
    SecuritySettings,
    SlaSettings,
    UiSettings,
    split_channel_entry,
)
from config.sections import (
    Associate,
    HandoffSettings,
    MedusaSettings,
    MetricsSettings,
    OmsSettings,
    PickingSettings,
    PickupSettings,
    Printer,
    ScanningSettings,
    Station,
    StorageSettings,
    SyncSettings,
)
from config.vocabulary import OrderState

# The status map's targets are the store's order states (config.vocabulary).
StoreState = OrderState

DEFAULT_CONFIG_PATH = Path("/etc/store-agent/config.toml")
ENV_PREFIX = "STORE_AGENT_"
ENV_NESTED_DELIMITER = "__"
# The name of the systemd credential holding the webhook URL ($CREDENTIALS_DIRECTORY/webhook_url).
WEBHOOK_CREDENTIAL = "webhook_url"

__all__ = [
    "ALERT_SEVERITIES",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_STATUS_MAP",
    "ENV_NESTED_DELIMITER",
    "ENV_PREFIX",
    "WEBHOOK_CREDENTIAL",
    "AlertsSettings",
    "Associate",
    "Bell",
    "HandoffSettings",
    "MedusaSettings",
    "MetricsSettings",
    "OmsSettings",
    "PickingSettings",
    "PickupSettings",
    "Printer",
    "ScanningSettings",
    "SecuritySettings",
    "Settings",
    "SlaSettings",
    "Station",
    "StorageSettings",
    "StoreState",
    "SyncSettings",
    "UiSettings",
    "split_channel_entry",
]


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
