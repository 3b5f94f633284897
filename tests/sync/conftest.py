from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sync.client import StoreSyncClient
from sync.oms_sim import OmsSimServer, SimState
from sync.samples import sample_orders

STORE = "S042"
TOKEN = "tok-9f3c1e7a5b2d4c6e8f0a"  # distinctive, so a leak is found by substring
NOW = datetime(2026, 11, 23, 14, 5, 9, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[OmsSimServer]:
    state = SimState(token=TOKEN, seed=7)
    for order in sample_orders(5, seed=7, now=NOW):
        state.add_order(STORE, order)
    with OmsSimServer(state) as server:
        yield server


def client_for(sim: OmsSimServer, token: str = TOKEN, **kwargs: Any) -> StoreSyncClient:
    kwargs.setdefault("timeout_s", 5.0)
    return StoreSyncClient(sim.url, STORE, token, agent_version="test", **kwargs)


def make_event(
    order: dict[str, Any],
    type_: str = "order.staged",
    *,
    seq: int = 1,
    data: dict[str, Any] | None = None,
    event_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    if data is None:
        data = {
            "order.staged": {
                "bin": "B-07",
                "lines": [
                    {"line_id": line["line_id"], "quantity_picked": line["quantity"]}
                    for line in order["lines"]
                ],
            },
            "order.picked_up": {"verification": "pickup_code", "bin": "B-07"},
            "order.cancelled": {"reason": "no_show", "note": None},
            "order.returned_to_shelf": {"lines": [], "bin": "B-07"},
        }[type_]
    return {
        "event_id": event_id or uuid.uuid4(),
        "seq": seq,
        "type": type_,
        "order_id": order["order_id"],
        "based_on_version": order["version"],
        "occurred_at": NOW,
        "associate_id": "A100",
        "device_id": "backroom-1",
        "data": data,
    }
