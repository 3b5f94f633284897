"""One store as the reference OMS holds it: its orders, change log, stock and what it received."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sync.oms_sim import items


@dataclass
class StoreSim:
    store_id: str
    token: str | None = None
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    floor: int = 0
    applied: set[str] = field(default_factory=set)
    deliveries: Counter[str] = field(default_factory=Counter)
    max_seq: dict[str, int] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    ordering_violations: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    stock: items.Stock = field(default_factory=items.Stock)
