"""pydantic models of the Store Sync API v1.1 messages (see docs/store-sync-api.md).

This module holds what the OMS sends (snapshots, event results, pages of
snapshots) and re-exports the rest, so callers import every message from here:
the events the agent sends are in ``sync.event_models``, the heartbeat in
``sync.heartbeat``, and safe JSON reading in ``sync.wire``.

Responses from the OMS ignore unknown fields (the contract is forward
compatible) but reject invalid known ones with a precise reason. Requests we
build forbid unknown fields, so a typo in the agent fails in tests, not at HQ.

A page of snapshots (feed or reconciliation) is parsed in two steps: the
envelope strictly, then each snapshot on its own, so one bad order is
quarantined while the rest of the page is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sync.errors import BadResponseError
from sync.event_models import (
    API_VERSION,
    DATA_MODELS,
    EVENT_TYPES,
    EVENT_TYPES_1_1,
    ID_CHECK_TYPES,
    SHORT_REASONS,
    Acknowledgment,
    CancelledData,
    Event,
    EventData,
    EventsRequest,
    HandedOverLine,
    HoldExtendedData,
    IdCheck,
    LineShortData,
    PickedLine,
    PickedUpData,
    ReturnedData,
    ReturnedLine,
    ShortLine,
    StagedData,
)
from sync.heartbeat import DeviceHealth, FeedHealth, Heartbeat, OutboxHealth, ReconciliationHealth
from sync.text import reject_controls, strip_controls_in, visible
from sync.wire import clip, describe_validation_error, json_type, load_json, to_rfc3339, validate

__all__ = [
    "API_VERSION", "DATA_MODELS", "EVENT_TYPES", "EVENT_TYPES_1_1", "ID_CHECK_TYPES", "SHORT_REASONS",
    "Acknowledgment", "Arrival", "CancelledData", "Change", "ChangesPage", "Customer", "DeviceHealth",
    "Event", "EventData", "EventResult", "EventsRequest", "FeedHealth", "HandedOverLine", "Heartbeat",
    "HoldExtendedData", "IdCheck", "LineShortData", "OrderLine", "OrderSnapshot", "OrdersPage",
    "OutboxHealth", "PickedLine", "PickedUpData", "PickupWindow", "ReconciliationHealth",
    "ReturnedData", "ReturnedLine", "ShortLine", "SnapshotEntry", "StagedData", "check_results",
    "check_snapshot", "describe_validation_error", "parse_changes_page", "parse_event_results",
    "parse_orders_page", "parse_snapshot", "to_rfc3339",
]


def _within_utc_range(moment: datetime) -> datetime:
    # A valid RFC 3339 time can still fall outside what UTC conversion and the
    # store's sortable text form hold (year 1, offset +01:00); such a snapshot
    # is invalid here, not a crash later while it is being applied.
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if not 1970 <= utc.year <= 9999:
        raise ValueError("timestamp out of range (years 1970-9999)")
    return moment


OmsTime = Annotated[AwareDatetime, AfterValidator(_within_utc_range)]
# SQLite stores integers in 64 bits; a larger version would fail on write.
SQLITE_MAX_INT = 2**63 - 1


_FROM_OMS = ConfigDict(extra="ignore", frozen=True)


class _FromOms(BaseModel):
    """Base of everything parsed from the OMS: unknown fields ignored, strings made safe.

    Every string field loses its control characters before its own checks run
    (sync.text), so a name with an ESC sequence is stored and shown as plain
    text, and a length limit counts what will be shown.
    """

    model_config = _FROM_OMS
    # Identifiers are refused, not cleaned, when they hold control characters:
    # cleaned, two different ids could become one (sync.text.reject_controls).
    IDENTIFIER_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"order_id", "line_id", "sku", "pickup_code", "status"})
    # Opaque tokens go back to the OMS byte for byte and are never shown as they are.
    OPAQUE_FIELDS: ClassVar[frozenset[str]] = frozenset({"change_id", "cursor", "next_cursor"})

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or info.field_name in cls.OPAQUE_FIELDS:
            return value
        if info.field_name in cls.IDENTIFIER_FIELDS:
            return reject_controls(value)
        return strip_controls_in(value)


class Customer(_FromOms):
    name: str = Field(max_length=200)
    phone_last4: str | None = Field(default=None, pattern=r"^[0-9]{4}$")


class PickupWindow(_FromOms):
    start: OmsTime
    end: OmsTime


class OrderLine(_FromOms):
    line_id: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    gtin: str | None = Field(default=None, pattern=r"^([0-9]{8}|[0-9]{12,14})$")
    description: str = Field(max_length=500)
    quantity: int = Field(ge=1, le=100_000)
    # API 1.1, all optional: absent means the default.
    location: str | None = Field(default=None, max_length=64)
    """Where the item lives in the store ("A12-3")."""
    pick_sequence: int | None = Field(default=None, ge=0, le=SQLITE_MAX_INT)
    """The store's walk order for this line; the pick list follows it, else ``location``."""
    age_restricted: bool = False
    """Handing it over needs an ID check."""
    quantity_cancelled: int = Field(default=0, ge=0, le=100_000)
    """Units the OMS cancelled or moved away (after a short pick)."""
    quantity_picked_up: int = Field(default=0, ge=0, le=100_000)
    """Units already handed over (after a partial pickup)."""

    @model_validator(mode="after")
    def _quantities_fit(self) -> OrderLine:
        if self.quantity_cancelled + self.quantity_picked_up > self.quantity:
            raise ValueError("quantity_cancelled + quantity_picked_up exceed quantity")
        return self


class AlternatePickup(_FromOms):
    """A person the customer named to collect the order (API 1.1)."""

    name: str = Field(min_length=1, max_length=200)


class Arrival(_FromOms):
    arrived_at: OmsTime
    bay: str | None = Field(default=None, max_length=32)
    vehicle: str | None = Field(default=None, max_length=200)


class OrderSnapshot(_FromOms):
    """A full order as the OMS knows it: never a diff."""

    order_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1, le=SQLITE_MAX_INT)
    status: str = Field(min_length=1, max_length=64)
    fulfillment: Literal["pickup", "curbside"]
    customer: Customer
    pickup_code: str = Field(min_length=4, max_length=16)
    pickup_window: PickupWindow | None = None
    hold_until: OmsTime | None = None
    lines: list[OrderLine] = Field(min_length=1)
    arrival: Arrival | None = None
    updated_at: OmsTime
    # API 1.1, optional.
    alternate_pickup: AlternatePickup | None = None
    promised_ready_at: OmsTime | None = None

    @field_validator("lines")
    @classmethod
    def _unique_line_ids(cls, lines: list[OrderLine]) -> list[OrderLine]:
        ids = [line.line_id for line in lines]
        if len(ids) != len(set(ids)):
            raise ValueError("line_id values must be unique within an order")
        return lines


# --- event results (OMS -> agent) -------------------------------------------

ResultStatus = Literal["accepted", "duplicate", "rejected", "conflict"]


class EventResult(_FromOms):
    """One event's outcome. A bad ``order`` snapshot does not hide the status:
    ``order`` is then None and ``order_error`` says why (quarantine ``order_raw``)."""

    event_id: UUID
    status: ResultStatus
    code: str | None = Field(default=None, max_length=200)
    message: str | None = None
    order: OrderSnapshot | None = None
    order_raw: Any = None
    order_error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_the_wire(cls, value: Any, info: ValidationInfo) -> Any:
        # Only while parsing an OMS answer (parse_event_results): the snapshot is checked on
        # its own, so a bad one is kept for quarantine instead of failing the whole answer,
        # and a long message is clipped. The usual result (no order, short message) passes as is.
        if not isinstance(value, dict) or not (info.context and info.context.get(_WIRE)):
            return value
        order, message = value.get("order"), value.get("message")
        long_message = isinstance(message, str) and len(message) > 1000
        if order is None and not long_message and "order_raw" not in value and "order_error" not in value:
            return value
        value = {**value, "order_raw": order, "order_error": None}
        if isinstance(message, str) and long_message:
            value["message"] = clip(message, 1000)
        if order is not None:
            value["order"], value["order_error"] = check_snapshot(order)
        return value


_WIRE = "sync.models.wire"


class _Results(BaseModel):
    model_config = _FROM_OMS

    results: list[EventResult]


def parse_event_results(body: bytes | str, sent_event_ids: Sequence[UUID | str]) -> list[EventResult]:
    """Parse POST /events' 200 body and check it: one result per sent event, same order.

    One validation pass over the whole answer; each snapshot is still checked on its own."""
    envelope = validate(_Results, load_json(body), "event results", context={_WIRE: True})
    return check_results(envelope.results, sent_event_ids)


def check_results(results: list[EventResult], sent_event_ids: Sequence[UUID | str]) -> list[EventResult]:
    """Raise BadResponseError unless ``results`` answers exactly ``sent_event_ids`` in order."""
    sent = [e if isinstance(e, UUID) else UUID(str(e)) for e in sent_event_ids]
    if len(results) != len(sent):
        raise BadResponseError(f"event results: {len(results)} results for {len(sent)} events")
    for index, (result, event_id) in enumerate(zip(results, sent, strict=True)):
        if result.event_id != event_id:
            raise BadResponseError(f"event results: result {index} answers another event_id")
    return results


# --- pages of snapshots (feed, reconciliation) ------------------------------


class SnapshotEntry(BaseModel):
    """One snapshot of a page, parsed on its own: exactly one of ``snapshot`` / ``error``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    raw: Any
    snapshot: OrderSnapshot | None
    error: str | None
    order_id: str | None
    """Best effort, from ``raw``, so a quarantined snapshot can still name its order."""


class Change(SnapshotEntry):
    change_id: str


class ChangesPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    changes: list[Change]
    cursor: str
    has_more: bool


class OrdersPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    orders: list[SnapshotEntry]
    next_cursor: str | None


class _RawChange(BaseModel):
    model_config = _FROM_OMS

    change_id: str = Field(min_length=1, max_length=200)
    order: Any = None


class _ChangesEnvelope(BaseModel):
    model_config = _FROM_OMS

    changes: list[_RawChange]
    cursor: str = Field(min_length=1, max_length=4096)
    has_more: bool


class _OrdersEnvelope(BaseModel):
    model_config = _FROM_OMS

    orders: list[Any]
    next_cursor: str | None = Field(max_length=4096)


def check_snapshot(raw: Any) -> tuple[OrderSnapshot | None, str | None]:
    """(snapshot, None) if ``raw`` is a valid snapshot, else (None, short reason)."""
    if not isinstance(raw, dict):
        return None, f"order is {json_type(raw)}, not an object"
    try:
        return OrderSnapshot.model_validate(raw), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)
    except (ValueError, TypeError, RecursionError) as exc:  # belt and braces: never escape
        return None, clip(f"invalid snapshot: {type(exc).__name__}", 300)


def _entry_fields(raw: Any) -> dict[str, Any]:
    snapshot, error = check_snapshot(raw)
    order_id = raw.get("order_id") if isinstance(raw, dict) else None
    # Only a label for the quarantine row: written out, never cleaned into another order's id.
    order_id = visible(order_id) if isinstance(order_id, str) else None
    if order_id is not None and not 0 < len(order_id) <= 64:
        order_id = None
    return {"raw": raw, "snapshot": snapshot, "error": error, "order_id": order_id}


def parse_changes_page(body: bytes | str) -> ChangesPage:
    """GET /changes' 200 body. Raises BadResponseError only if the envelope is wrong."""
    envelope = validate(_ChangesEnvelope, load_json(body), "changes page")
    changes = [Change(change_id=c.change_id, **_entry_fields(c.order)) for c in envelope.changes]
    return ChangesPage(changes=changes, cursor=envelope.cursor, has_more=envelope.has_more)


def parse_orders_page(body: bytes | str) -> OrdersPage:
    """GET /orders' 200 body, each snapshot isolated like the feed's."""
    envelope = validate(_OrdersEnvelope, load_json(body), "orders page")
    return OrdersPage(
        orders=[SnapshotEntry(**_entry_fields(raw)) for raw in envelope.orders],
        next_cursor=envelope.next_cursor,
    )


def parse_snapshot(body: bytes | str) -> OrderSnapshot:
    """GET /orders/{id}'s 200 body: one snapshot, or BadResponseError."""
    snapshot, error = check_snapshot(load_json(body))
    if snapshot is None:
        raise BadResponseError(f"order snapshot: {error}")
    return snapshot
