"""Messages that workers post to the app: the only way a worker's result reaches a screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


class DataChanged(Message):
    """Another connection (the daemon, another terminal, this one) committed."""


@dataclass
class SyncDone(Message):
    generation: int
    summary: dict[str, Any]


@dataclass
class LiveChecked(Message):
    """The live check's answer; ``generation`` tells a stale answer from the current one."""

    generation: int
    order_id: str
    code: str | None
    reached: bool
    detail: str
    error: Exception | None = None
