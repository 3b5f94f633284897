"""pydantic models of the Store Sync API v1.1 messages (see docs/store-sync-api.md).

Responses from the OMS ignore unknown fields (the contract is forward
compatible) but reject invalid known ones with a precise reason. Requests we
build forbid unknown fields, so a typo in the agent fails in tests, not at HQ.

A page of snapshots (feed or reconciliation) is parsed in two steps: the
envelope strictly, then each snapshot on its own, so one bad order is
quarantined while the rest of the page is applied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
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

from config.vocabulary import (
    CancelReason,
    CollectedBy,
    EventType,
    IdCheckType,
    ShortReason,
    Verification,
)
from sync.errors import BadResponseError
from sync.text import strip_controls, strip_controls_in

_M = TypeVar("_M", bound=BaseModel)

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

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
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


# --- events (agent -> OMS) -------------------------------------------------

_TO_OMS = ConfigDict(extra="forbid", frozen=True)

API_VERSION = "1.1"
"""Sent as ``Store-Sync-Version`` on every request and as the heartbeat's ``api_version``."""

# The words are config.vocabulary's; these tuples are the lists validators and screens offer.
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
# Version 1.1 types: an OMS that answers them rejected/unknown_type does not speak 1.1.
EVENT_TYPES_1_1: frozenset[EventType] = frozenset({EventType.LINE_SHORT, EventType.HOLD_EXTENDED})
SHORT_REASONS: tuple[ShortReason, ...] = tuple(ShortReason)
ID_CHECK_TYPES: tuple[IdCheckType, ...] = tuple(IdCheckType)
BinId = Field(min_length=1, max_length=32)
LineId = Field(min_length=1, max_length=64)


class PickedLine(BaseModel):
    model_config = _TO_OMS

    line_id: str = LineId
    quantity_picked: int = Field(ge=0, le=100_000)


class ReturnedLine(BaseModel):
    model_config = _TO_OMS

    line_id: str = LineId
    quantity: int = Field(ge=0, le=100_000)


class ShortLine(BaseModel):
    """Units of a line the associate could not pick, and why (API 1.1)."""

    model_config = _TO_OMS

    line_id: str = LineId
    quantity: int = Field(ge=1, le=100_000)
    reason: ShortReason


class HandedOverLine(BaseModel):
    """Units of a line handed over in this pickup (API 1.1)."""

    model_config = _TO_OMS

    line_id: str = LineId
    quantity: int = Field(ge=1, le=100_000)


class IdCheck(BaseModel):
    model_config = _TO_OMS

    type: IdCheckType


class Acknowledgment(BaseModel):
    """Extension of 1.1 (docs/store-sync-api.md): the customer signed a printed
    acknowledgment. Sent only by stores whose config asks for it."""

    model_config = _TO_OMS

    printed: bool
    signed: bool


def _unique(ids: list[str], what: str) -> None:
    if len(ids) != len(set(ids)):
        raise ValueError(f"{what} must be unique")


class StagedData(BaseModel):
    """Fewer than ordered is a short pick; staging again moves the order to other bins.

    1.1: ``bins`` names every bin (tote) of the order; ``bin`` stays the first one."""

    model_config = _TO_OMS

    bin: str = BinId
    lines: list[PickedLine] = Field(min_length=1)
    bins: list[Annotated[str, BinId]] | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _first_bin(self) -> StagedData:
        if self.bins is not None:
            _unique(self.bins, "bins")
            if self.bins[0] != self.bin:
                raise ValueError("bin must be the first of bins")
        return self


class PickedUpData(BaseModel):
    """1.1 adds the lines of a partial pickup (absent: everything staged) and the evidence."""

    model_config = _TO_OMS

    verification: Verification
    bin: str | None = Field(default=None, max_length=32)
    lines: list[HandedOverLine] | None = Field(default=None, min_length=1)
    collected_by: CollectedBy | None = None
    id_check: IdCheck | None = None
    bins_scanned: list[Annotated[str, BinId]] | None = Field(default=None, max_length=50)
    acknowledgment: Acknowledgment | None = None

    @model_validator(mode="after")
    def _unique_lines(self) -> PickedUpData:
        if self.lines is not None:
            _unique([line.line_id for line in self.lines], "lines[].line_id")
        return self


class CancelledData(BaseModel):
    model_config = _TO_OMS

    reason: CancelReason
    note: str | None = Field(default=None, max_length=1000)


class ReturnedData(BaseModel):
    model_config = _TO_OMS

    lines: list[ReturnedLine] = Field(default_factory=list)
    bin: str | None = Field(default=None, max_length=32)


class LineShortData(BaseModel):
    """The units are not available at this store: the OMS lowers its availability."""

    model_config = _TO_OMS

    lines: list[ShortLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_lines(self) -> LineShortData:
        _unique([line.line_id for line in self.lines], "lines[].line_id")
        return self


class HoldExtendedData(BaseModel):
    model_config = _TO_OMS

    until: AwareDatetime
    reason: str = Field(min_length=1, max_length=500)


EventData = (StagedData | PickedUpData | CancelledData | ReturnedData | LineShortData
             | HoldExtendedData)
# The event types this agent sends, each with the model its data must fit.
DATA_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.STAGED: StagedData,
    EventType.PICKED_UP: PickedUpData,
    EventType.CANCELLED: CancelledData,
    EventType.RETURNED_TO_SHELF: ReturnedData,
    EventType.LINE_SHORT: LineShortData,
    EventType.HOLD_EXTENDED: HoldExtendedData,
}


class Event(BaseModel):
    """One associate action, as the outbox sends it. ``data`` is checked against ``type``."""

    model_config = _TO_OMS

    event_id: UUID
    seq: int = Field(ge=0)
    type: EventType
    order_id: str = Field(min_length=1, max_length=64)
    based_on_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    associate_id: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=64)
    data: EventData

    @model_validator(mode="before")
    @classmethod
    def _data_by_type(cls, value: Any) -> Any:
        # Smart-mode unions would pick whichever data model happens to fit;
        # the type field is the only authority on which one it must be.
        if isinstance(value, dict):
            # Any JSON value may stand in "type": one that is no EventType simply finds no model.
            model = DATA_MODELS.get(value.get("type"))  # type: ignore[arg-type]  # see above
            data = value.get("data")
            if model is not None and not isinstance(data, BaseModel):
                value = {**value, "data": model.model_validate(data)}
        return value

    @field_validator("type")
    @classmethod
    def _type_has_a_data_model(cls, value: EventType) -> EventType:
        if value not in DATA_MODELS:
            raise ValueError(f"{value} is not an event this agent sends")
        return value

    @model_validator(mode="after")
    def _data_matches_type(self) -> Event:
        if not isinstance(self.data, DATA_MODELS[self.type]):
            raise ValueError(f"data does not match type {self.type}")
        return self


class EventsRequest(BaseModel):
    model_config = _TO_OMS

    events: list[Event] = Field(min_length=1, max_length=500)


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
            value["message"] = _clip(message, 1000)
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
    envelope = _validate(_Results, _load_json(body), "event results", context={_WIRE: True})
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
        return None, f"order is {_json_type(raw)}, not an object"
    try:
        return OrderSnapshot.model_validate(raw), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)
    except (ValueError, TypeError, RecursionError) as exc:  # belt and braces: never escape
        return None, _clip(f"invalid snapshot: {type(exc).__name__}", 300)


def _entry_fields(raw: Any) -> dict[str, Any]:
    snapshot, error = check_snapshot(raw)
    order_id = raw.get("order_id") if isinstance(raw, dict) else None
    order_id = strip_controls(order_id) if isinstance(order_id, str) else None
    if order_id is not None and not 0 < len(order_id) <= 64:
        order_id = None
    return {"raw": raw, "snapshot": snapshot, "error": error, "order_id": order_id}


def parse_changes_page(body: bytes | str) -> ChangesPage:
    """GET /changes' 200 body. Raises BadResponseError only if the envelope is wrong."""
    envelope = _validate(_ChangesEnvelope, _load_json(body), "changes page")
    changes = [Change(change_id=c.change_id, **_entry_fields(c.order)) for c in envelope.changes]
    return ChangesPage(changes=changes, cursor=envelope.cursor, has_more=envelope.has_more)


def parse_orders_page(body: bytes | str) -> OrdersPage:
    """GET /orders' 200 body, each snapshot isolated like the feed's."""
    envelope = _validate(_OrdersEnvelope, _load_json(body), "orders page")
    return OrdersPage(
        orders=[SnapshotEntry(**_entry_fields(raw)) for raw in envelope.orders],
        next_cursor=envelope.next_cursor,
    )


def parse_snapshot(body: bytes | str) -> OrderSnapshot:
    """GET /orders/{id}'s 200 body: one snapshot, or BadResponseError."""
    snapshot, error = check_snapshot(_load_json(body))
    if snapshot is None:
        raise BadResponseError(f"order snapshot: {error}")
    return snapshot


# --- heartbeat (agent -> OMS) -----------------------------------------------


class OutboxHealth(BaseModel):
    model_config = _TO_OMS

    pending: int = Field(ge=0)
    oldest_pending_age_s: float | None = Field(default=None, ge=0)
    dead_letters: int = Field(ge=0)
    blocked_orders: int = Field(ge=0)


class FeedHealth(BaseModel):
    model_config = _TO_OMS

    cursor: str | None = None
    last_change_at: AwareDatetime | None = None


class DeviceHealth(BaseModel):
    model_config = _TO_OMS

    id: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=32)
    status: str = Field(min_length=1, max_length=32)


class ReconciliationHealth(BaseModel):
    model_config = _TO_OMS

    last_run_at: AwareDatetime | None = None
    mismatches_last_hour: int = Field(ge=0)


class Heartbeat(BaseModel):
    model_config = _TO_OMS

    agent_version: str = Field(min_length=1, max_length=64)
    sent_at: AwareDatetime
    outbox: OutboxHealth
    feed: FeedHealth
    devices: list[DeviceHealth] = Field(default_factory=list)
    reconciliation: ReconciliationHealth
    api_version: str | None = Field(default=None, max_length=16)
    """1.1: the version of the Store Sync API the agent speaks."""


# --- helpers ----------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(body: bytes | str) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise BadResponseError("body is not valid JSON: nested too deeply") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digits
        raise BadResponseError(_clip(f"body is not valid JSON: {_json_reason(exc)}", 200)) from None


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at offset {exc.pos}"
    return type(exc).__name__


def _validate(model: type[_M], data: Any, what: str, *, context: dict[str, Any] | None = None) -> _M:
    if not isinstance(data, dict):
        raise BadResponseError(f"{what}: body is {_json_type(data)}, not an object")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise BadResponseError(f"{what}: {describe_validation_error(exc)}") from None
    except RecursionError:
        raise BadResponseError(f"{what}: nested too deeply") from None


def describe_validation_error(exc: ValidationError, *, limit: int = 3) -> str:
    """ "lines.0.gtin: String should match pattern ..." for the first few problems.

    Never echoes the input: a snapshot may be huge, or carry a customer's data.
    """
    parts = []
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors[:limit]:
        where = ".".join(_clip(str(part), 40) for part in error["loc"]) or "(root)"
        parts.append(f"{where}: {_clip(error['msg'], 120)}")
    more = len(errors) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return _clip("; ".join(parts), 400)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_rfc3339(moment: datetime) -> str:
    """UTC, second precision, trailing Z: the contract's timestamp form."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
