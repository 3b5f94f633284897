"""The events (agent -> OMS): what each associate action tells the OMS, checked against its
type. Requests we build forbid unknown fields, so a typo in the agent fails in tests, not at HQ."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from config.vocabulary import (
    CancelReason,
    CollectedBy,
    EventType,
    IdCheckType,
    ShortReason,
    Verification,
)

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
