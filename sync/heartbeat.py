"""The heartbeat (agent -> OMS): how the store is, every minute."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_TO_OMS = ConfigDict(extra="forbid", frozen=True)



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
