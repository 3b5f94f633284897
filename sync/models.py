"""pydantic models of the Store Sync API v1 messages (see docs/store-sync-api.md).

Responses from the OMS ignore unknown fields (the contract is forward
compatible) but reject invalid known ones with a precise reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

_FROM_OMS = ConfigDict(extra="ignore", frozen=True)


class Customer(BaseModel):
    model_config = _FROM_OMS

    name: str = Field(max_length=200)
    phone_last4: str | None = Field(default=None, pattern=r"^[0-9]{4}$")


class PickupWindow(BaseModel):
    model_config = _FROM_OMS

    start: AwareDatetime
    end: AwareDatetime


class OrderLine(BaseModel):
    model_config = _FROM_OMS

    line_id: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    gtin: str | None = Field(default=None, pattern=r"^([0-9]{8}|[0-9]{12,14})$")
    description: str = Field(max_length=500)
    quantity: int = Field(ge=1, le=100_000)


class Arrival(BaseModel):
    model_config = _FROM_OMS

    arrived_at: AwareDatetime
    bay: str | None = Field(default=None, max_length=32)
    vehicle: str | None = Field(default=None, max_length=200)


class OrderSnapshot(BaseModel):
    """A full order as the OMS knows it: never a diff."""

    model_config = _FROM_OMS

    order_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    status: str = Field(min_length=1, max_length=64)
    fulfillment: Literal["pickup", "curbside"]
    customer: Customer
    pickup_code: str = Field(min_length=4, max_length=16)
    pickup_window: PickupWindow | None = None
    hold_until: AwareDatetime | None = None
    lines: list[OrderLine] = Field(min_length=1)
    arrival: Arrival | None = None
    updated_at: AwareDatetime

    @field_validator("lines")
    @classmethod
    def _unique_line_ids(cls, lines: list[OrderLine]) -> list[OrderLine]:
        ids = [line.line_id for line in lines]
        if len(ids) != len(set(ids)):
            raise ValueError("line_id values must be unique within an order")
        return lines


def to_rfc3339(moment: datetime) -> str:
    """UTC, second precision, trailing Z: the contract's timestamp form."""
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
