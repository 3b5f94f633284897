"""The reference OMS over HTTP: the Store Sync API v1 plus ``/admin`` (aiohttp.web).

Handlers are thin: ``SimState`` does the work. Faults are injected by one
middleware on store endpoints only, so ``/admin`` stays usable on a bad day.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from config.errors import UsageError
from sync.models import EventsRequest, Heartbeat, describe_validation_error
from sync.oms_sim.faults import ScriptedAnswer
from sync.oms_sim.rules import OPEN_STATUSES
from sync.oms_sim.state import CursorGone, SimState, UnknownOrder

STATE = web.AppKey("state", SimState)
STORE = "/v1/stores/{store_id}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


def _reset_connection(request: web.Request) -> web.Response:
    """Drop the connection with a TCP reset: the client gets no answer at all."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=204)  # goes nowhere: the transport is gone


def _canned(answer: ScriptedAnswer) -> web.Response:
    return web.Response(
        status=answer.status, text=answer.body, headers=answer.headers, content_type="application/json"
    )


@web.middleware
async def faults_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        if request.path.startswith("/admin") and request.remote not in ("127.0.0.1", "::1"):
            return _error(403, "forbidden", "admin endpoints answer on loopback only")
        return await handler(request)
    state = request.app[STATE]
    with state.lock:
        faults = state.faults
        dice = [state.fault_rng.random() for _ in range(4)]
    if faults.down:
        return _reset_connection(request)
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    scripted = state.take_scripted(request.method, request.path)
    if scripted is not None:
        if scripted.apply:
            await _authorized(request, handler)
        return _reset_connection(request) if scripted.drop_connection else _canned(scripted)
    if dice[0] < faults.error_rate:
        status = (500, 502, 503)[int(dice[0] / faults.error_rate * 3) % 3]
        return _error(status, "injected", "injected server error")
    if dice[1] < faults.rate_limit:
        retry_after = f"{faults.retry_after:g}"
        return _error(429, "rate_limited", "injected rate limit", **{"Retry-After": retry_after})
    response = await _authorized(request, handler)
    if dice[2] < faults.lost_response:
        return _reset_connection(request)
    if dice[3] < faults.malformed:
        return web.Response(status=200, text='{"changes": [{"change_id": ', content_type="application/json")
    return response


async def _authorized(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    store_id = request.match_info.get("store_id", "")
    status = state.check_token(store_id, request.headers.get("Authorization"))
    if status == 401:
        return _error(401, "unauthorized", "missing or unknown bearer token")
    if status == 403:
        return _error(403, "forbidden", "this token belongs to another store")
    return await handler(request)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(float(raw))
    except (ValueError, OverflowError):
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None
    if not low <= value <= high:
        raise web.HTTPBadRequest(text=f"{name} must be {low}-{high}")
    return value


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="body is not valid JSON") from None


# --- store endpoints --------------------------------------------------------------


async def get_changes(request: web.Request) -> web.Response:
    state, store_id = request.app[STATE], request.match_info["store_id"]
    after = request.query.get("after")
    limit = _int_param(request, "limit", 100, 1, 1000)
    wait = _int_param(request, "wait", 0, 0, 30)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        waiter = state.waiter(store_id)  # before reading, so no change slips in between
        try:
            page = state.changes(store_id, after, limit)
        except CursorGone as exc:
            return _error(410, "cursor_expired", str(exc))
        remaining = deadline - loop.time()
        if page["changes"] or remaining <= 0:
            return web.json_response(page)
        state.polls_waiting[store_id] = state.polls_waiting.get(store_id, 0) + 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), remaining)
        finally:
            state.polls_waiting[store_id] -= 1


async def post_events(request: web.Request) -> web.Response:
    state, store_id = request.app[STATE], request.match_info["store_id"]
    data = await _json_body(request)
    events = data.get("events") if isinstance(data, dict) else None
    if isinstance(events, list) and len(events) > 500:
        return _error(413, "too_large", "at most 500 events per batch")
    try:
        batch = EventsRequest.model_validate(data)
    except ValidationError as exc:
        return _error(400, "invalid_batch", describe_validation_error(exc))
    # A valid request is an object with an "events" list: recorded as received, not re-dumped.
    return web.json_response({"results": state.apply_events(store_id, batch.events, raw=events)})


async def get_order(request: web.Request) -> web.Response:
    state = request.app[STATE]
    order = state.get_order(request.match_info["store_id"], request.match_info["order_id"])
    if order is None:
        return _error(404, "not_found", "no such order in this store")
    return web.json_response(order)


async def list_orders(request: web.Request) -> web.Response:
    state = request.app[STATE]
    updated_after = None
    if "updated_after" in request.query:
        try:
            updated_after = datetime.fromisoformat(request.query["updated_after"])
        except ValueError:
            return _error(400, "bad_timestamp", "updated_after must be RFC 3339")
        if updated_after.tzinfo is None:
            return _error(400, "bad_timestamp", "updated_after needs a time zone")
    limit = _int_param(request, "limit", 100, 1, 1000)
    page = state.list_orders(
        request.match_info["store_id"], updated_after, request.query.get("cursor"), limit
    )
    return web.json_response(page)


async def get_availability(request: web.Request) -> web.Response:
    """API 1.1: ``?sku=A&sku=B`` -> the store's availability of each (every known SKU without)."""
    skus = request.query.getall("sku", [])
    if len(skus) > 1000 or any(not 0 < len(sku) <= 64 for sku in skus):
        return _error(400, "bad_sku", "1-1000 skus of 1-64 characters")
    state = request.app[STATE]
    return web.json_response(
        {"availability": state.availability(request.match_info["store_id"], skus or None)})


async def post_heartbeat(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    try:
        Heartbeat.model_validate(data)
    except ValidationError as exc:
        return _error(400, "invalid_heartbeat", describe_validation_error(exc))
    state.record_heartbeat(request.match_info["store_id"], data)
    return web.Response(status=204)


# --- admin ------------------------------------------------------------------------


async def admin_stores(request: web.Request) -> web.Response:
    state = request.app[STATE]
    with state.lock:
        ids = sorted(state.stores)
    return web.json_response({"stores": {sid: state.stats(sid) for sid in ids}})


async def admin_create_store(request: web.Request) -> web.Response:
    data = await _json_body(request) if request.can_read_body else {}
    token = data.get("token") if isinstance(data, dict) else None
    request.app[STATE].create_store(request.match_info["store_id"], token)
    return web.json_response({"store_id": request.match_info["store_id"]}, status=201)


async def admin_add_orders(request: web.Request) -> web.Response:
    state, store_id = request.app[STATE], request.match_info["store_id"]
    data = await _json_body(request) if request.can_read_body else {}
    if not isinstance(data, dict):
        return _error(400, "bad_body", "expected an object")
    try:
        given = data.get("orders") or ([data["order"]] if "order" in data else None)
        if given is not None:
            created = [state.add_order(store_id, order) for order in given]
        else:
            created = state.add_sample_orders(store_id, int(data.get("count", 1)))
    except (ValidationError, TypeError, ValueError) as exc:
        return _error(400, "bad_order", str(exc)[:500])
    return web.json_response({"orders": created}, status=201)


async def admin_list_orders(request: web.Request) -> web.Response:
    state = request.app[STATE]
    with state.lock:
        orders = list(state.store(request.match_info["store_id"]).orders.values())
        return web.json_response({"orders": orders})


async def admin_order_action(request: web.Request) -> web.Response:
    state, store_id = request.app[STATE], request.match_info["store_id"]
    order_id, action = request.match_info["order_id"], request.match_info["action"]
    data = await _json_body(request) if request.can_read_body else {}
    data = data if isinstance(data, dict) else {}
    try:
        if action == "cancel":
            order = state.cancel_order(store_id, order_id)
        elif action == "arrival":
            order = state.mark_arrival(store_id, order_id, data.get("arrival"))
        elif action == "update":
            order = state.update_order(store_id, order_id, **data)
        else:
            return _error(404, "unknown_action", "actions: cancel, arrival, update")
    except UnknownOrder:
        return _error(404, "not_found", "no such order in this store")
    except (ValidationError, TypeError) as exc:
        return _error(400, "bad_update", str(exc)[:500])
    return web.json_response(order)


async def admin_raw_change(request: web.Request) -> web.Response:
    data = await _json_body(request)
    if not isinstance(data, dict) or "order" not in data:
        return _error(400, "bad_body", 'expected {"order": <anything>}')
    request.app[STATE].append_raw_change(request.match_info["store_id"], data["order"])
    return web.Response(status=204)


async def admin_compact(request: web.Request) -> web.Response:
    floor = request.app[STATE].compact(request.match_info["store_id"])
    return web.json_response({"compacted_at": floor})


async def admin_store_read(request: web.Request) -> web.Response:
    state, store_id = request.app[STATE], request.match_info["store_id"]
    what = request.match_info["what"]
    if what == "stats":
        return web.json_response(state.stats(store_id))
    with state.lock:
        store = state.store(store_id)
        items = {"events": store.received, "heartbeats": store.heartbeats,
                 "stock-log": store.stock.log}.get(what)
        if items is None:
            return _error(404, "unknown", "read: stats, events, heartbeats, stock-log")
        return web.json_response({what: items})


async def admin_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "PUT":
        data = await _json_body(request)
        try:
            state.set_faults(data.get("spec", "") if isinstance(data, dict) else "")
        except UsageError as exc:
            return _error(400, "bad_spec", str(exc))
    elif request.method == "DELETE":
        state.set_faults("")
        with state.lock:
            state.script.clear()
    with state.lock:
        return web.json_response({"spec": state.faults.to_spec(), "scripted": len(state.script)})


async def admin_script(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    try:
        answers = [ScriptedAnswer.from_json(item) for item in (data if isinstance(data, list) else [data])]
    except (TypeError, ValueError) as exc:
        return _error(400, "bad_script", str(exc)[:500])
    with state.lock:
        state.script.extend(answers)
        return web.json_response({"scripted": len(state.script)})


async def admin_trickle(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    interval = data.get("interval_s") if isinstance(data, dict) else None
    if interval is not None and (not isinstance(interval, int | float) or interval <= 0):
        return _error(400, "bad_interval", "interval_s: a positive number, or null to stop")
    state.trickle_interval_s = interval
    return web.json_response({"interval_s": interval})


def trickle_once(state: SimState) -> None:
    """One tick of a lively store: a new order, sometimes a cancellation or an arrival."""
    with state.lock:
        for store_id in sorted(state.stores):
            state.add_order(store_id)
            open_orders = sorted(
                oid for oid, o in state.stores[store_id].orders.items() if o["status"] in OPEN_STATUSES
            )
            if open_orders and state.rng.random() < 0.1:
                state.cancel_order(store_id, state.rng.choice(open_orders))
            waiting = [
                oid
                for oid in open_orders
                if state.stores[store_id].orders[oid]["fulfillment"] == "curbside"
                and state.stores[store_id].orders[oid]["arrival"] is None
            ]
            if waiting and state.rng.random() < 0.2:
                state.mark_arrival(store_id, state.rng.choice(waiting))


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.attach_loop(asyncio.get_running_loop())

    async def trickle() -> None:
        while True:
            await asyncio.sleep(state.trickle_interval_s or 0.2)
            if state.trickle_interval_s:
                trickle_once(state)

    task = asyncio.create_task(trickle())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    state.attach_loop(None)


def create_app(state: SimState, *, max_body_bytes: int = 2 * 1024 * 1024) -> web.Application:
    app = web.Application(middlewares=[faults_and_auth], client_max_size=max_body_bytes)
    app[STATE] = state
    app.cleanup_ctx.append(_lifecycle)
    app.router.add_get(STORE + "/changes", get_changes)
    app.router.add_post(STORE + "/events", post_events)
    app.router.add_get(STORE + "/orders", list_orders)
    app.router.add_get(STORE + "/orders/{order_id}", get_order)
    app.router.add_post(STORE + "/heartbeat", post_heartbeat)
    app.router.add_get(STORE + "/availability", get_availability)
    app.router.add_get("/admin/stores", admin_stores)
    app.router.add_post("/admin/stores/{store_id}", admin_create_store)
    app.router.add_post("/admin/stores/{store_id}/orders", admin_add_orders)
    app.router.add_get("/admin/stores/{store_id}/orders", admin_list_orders)
    app.router.add_post("/admin/stores/{store_id}/orders/{order_id}/{action}", admin_order_action)
    app.router.add_post("/admin/stores/{store_id}/raw-change", admin_raw_change)
    app.router.add_post("/admin/stores/{store_id}/compact", admin_compact)
    app.router.add_get("/admin/stores/{store_id}/{what}", admin_store_read)
    app.router.add_route("*", "/admin/faults", admin_faults)
    app.router.add_post("/admin/faults/script", admin_script)
    app.router.add_put("/admin/trickle", admin_trickle)
    return app
