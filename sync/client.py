"""StoreSyncClient: the agent's side of the Store Sync API, on httpx.

One method per endpoint, each a single attempt: retrying, batching and backing
off belong to the sender, which uses ``backoff_delay`` and ``retry_after_floor``
below. Every failure leaves this module as a ``sync.errors.SyncError``; no httpx
exception type escapes, and the bearer token is never in a message or a repr.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import certifi
import httpx
from pydantic import SecretStr

from config.errors import ConfigError
from sync.errors import (
    SyncError,
    TlsError,
    TransientError,
    error_for_status,
)
from sync.models import (
    API_VERSION,
    ChangesPage,
    Event,
    EventResult,
    EventsRequest,
    Heartbeat,
    OrderSnapshot,
    OrdersPage,
    parse_changes_page,
    parse_event_results,
    parse_orders_page,
    parse_snapshot,
    to_rfc3339,
)

log = logging.getLogger(__name__)

# A store PC has little memory to spare; a page of 1000 large orders stays far below this.
MAX_BODY_BYTES = 32 * 1024 * 1024
# Connecting never needs long: a slow connect is a dead network, better known early.
MAX_CONNECT_S = 5.0


def backoff_delay(
    attempt: int, *, base: float = 1.0, cap: float = 30.0, rng: random.Random | Any = random
) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt)), attempt from 0."""
    exponent = min(max(attempt, 0), 62)  # 2**63 floats fine but says nothing more
    return rng.uniform(0.0, min(cap, base * 2.0**exponent))


def retry_after_floor(
    retry_after_s: float, rng: random.Random | Any = random, *, jitter_s: float = 1.0
) -> float:
    """Wait at least what the OMS asked, plus a little jitter so stores do not stampede back."""
    return max(retry_after_s, 0.0) + rng.uniform(0.0, jitter_s)


def make_ssl_context(ca_bundle: str | Path | None, client_cert: str | Path | None) -> ssl.SSLContext:
    """One context for both: httpx drops ``cert=`` when ``verify`` is a path, not a context."""
    try:
        context = ssl.create_default_context(cafile=str(ca_bundle or certifi.where()))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"oms.ca_bundle: cannot load {ca_bundle}: {exc}") from None
    if client_cert is not None:
        try:
            context.load_cert_chain(str(client_cert))  # certificate and key in one PEM
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"oms.client_cert: cannot load {client_cert}: {exc}") from None
    return context


class HttpLifecycle:
    """``async with`` and ``aclose()`` for a client that owns one ``httpx.AsyncClient`` as ``_http``."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()


class StoreSyncClient(HttpLifecycle):
    """Async client of one store's Store Sync API. Use ``async with`` or call ``aclose()``."""

    max_in_flight = 3
    """POST /events batches the sender may keep in flight at once. The contract's
    batches are independent when they share no order (the sender guarantees that),
    and overlapping them keeps both the store's and the OMS's CPU busy."""

    def __init__(
        self,
        base_url: str,
        store_id: str,
        token: str | None,
        *,
        timeout_s: float = 10.0,
        ca_bundle: str | Path | None = None,
        client_cert: str | Path | None = None,
        agent_version: str = "0",
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = base_url.rstrip("/")
        self.store_id = store_id
        self.timeout_s = timeout_s
        self._prefix = f"/v1/stores/{quote(store_id, safe='')}"
        headers = {"User-Agent": f"store-agent/{agent_version}", "Accept": "application/json",
                   "Store-Sync-Version": API_VERSION}
        if token:
            headers["Authorization"] = f"Bearer {token}"  # httpx.Headers masks it in its repr
        verify: ssl.SSLContext | bool = True
        if self.base_url.startswith("https:") or ca_bundle or client_cert:
            verify = make_ssl_context(ca_bundle, client_cert)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            verify=verify,
            timeout=self._timeouts(timeout_s),
            transport=transport,
            follow_redirects=False,  # a redirect would carry the token to another host
        )
        self._token = SecretStr(token) if token else None
        self.last_server_date: datetime | None = None
        """The OMS's ``Date`` header on the last answer, for a clock-skew check."""
        self.last_response_at: datetime | None = None
        """Our clock when that answer arrived."""

    def __repr__(self) -> str:
        return f"StoreSyncClient(base_url={self.base_url!r}, store_id={self.store_id!r})"

    # --- endpoints ----------------------------------------------------------

    async def get_changes(
        self,
        after: str | None = None,
        limit: int = 100,
        wait: float = 0,
        *,
        timeout_s: float | None = None,
    ) -> ChangesPage:
        """One page of the feed; long-polls up to ``wait`` s. CursorExpiredError on 410."""
        if not 1 <= limit <= 1000 or not 0 <= wait <= 30:
            raise ValueError("limit must be 1-1000 and wait 0-30")
        params: dict[str, Any] = {"limit": limit, "wait": int(wait)}
        if after is not None:
            params["after"] = after
        # The long poll is not a slow server: the read may legitimately take `wait` longer.
        body = await self._call("GET", "/changes", params=params, timeout_s=timeout_s, extra_s=wait)
        return parse_changes_page(body)

    async def post_events(self, events: Sequence[Event | Mapping[str, Any]]) -> list[EventResult]:
        """Send one batch; one result per event in the same order, else BadResponseError.

        Safe to call concurrently (the sender keeps up to ``max_in_flight`` batches in
        flight, never two holding the same order); each call uses its own connection.
        """
        request = EventsRequest(events=list(events))  # type: ignore[arg-type]
        sent_ids = [event.event_id for event in request.events]
        # pydantic-core writes the JSON itself: about half the CPU of model_dump + json.dumps.
        # exclude_unset: a 1.1 field the action did not fill is absent, not null, on the wire
        # (absent has a meaning in the contract: e.g. no "lines" is "everything staged").
        content = request.model_dump_json(exclude_unset=True).encode()
        # Only the body waits for the answer: the models are ~3 KB an event, ten times their JSON.
        del events, request
        body = await self._call("POST", "/events", content=content)
        return parse_event_results(body, sent_ids)

    async def get_order(self, order_id: str, *, timeout_s: float | None = None) -> OrderSnapshot:
        """The live check: the OMS's current snapshot, or NotFoundError."""
        path = f"/orders/{quote(order_id, safe='')}"
        body = await self._call("GET", path, timeout_s=timeout_s, not_found=True)
        return parse_snapshot(body)

    async def list_orders(
        self,
        updated_after: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        *,
        timeout_s: float | None = None,
    ) -> OrdersPage:
        """One page for reconciliation: open orders plus those updated after ``updated_after``."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be 1-1000")
        params: dict[str, Any] = {"limit": limit}
        if updated_after is not None:
            params["updated_after"] = to_rfc3339(updated_after)
        if cursor is not None:
            params["cursor"] = cursor
        body = await self._call("GET", "/orders", params=params, timeout_s=timeout_s)
        return parse_orders_page(body)

    async def heartbeat(self, body: Heartbeat | Mapping[str, Any]) -> None:
        beat = body if isinstance(body, Heartbeat) else Heartbeat.model_validate(body)
        await self._call("POST", "/heartbeat", json_body=beat.model_dump(mode="json"))

    # --- one request ----------------------------------------------------------

    @staticmethod
    def _timeouts(seconds: float, extra_s: float = 0.0) -> httpx.Timeout:
        return httpx.Timeout(
            connect=min(seconds, MAX_CONNECT_S), read=seconds + extra_s, write=seconds, pool=seconds
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        timeout_s: float | None = None,
        extra_s: float = 0.0,
        not_found: bool = False,
    ) -> bytes:
        what = f"{method} {path}"
        seconds = timeout_s if timeout_s is not None else self.timeout_s
        started = time.monotonic()
        try:
            # httpx's timeouts are per phase; the deadline bounds the whole exchange,
            # so a server trickling one byte per read timeout cannot hold us forever.
            async with asyncio.timeout(seconds + extra_s):
                response, body = await self._send(
                    method, path, params, json_body, content, seconds, extra_s
                )
        except TimeoutError:
            raise TransientError(f"{what}: no answer within {seconds + extra_s:g} s") from None
        except SyncError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
            error = _transport_error(what, exc)
            raise type(error)(self._redact(str(error)), status=None) from None
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("%s -> %s in %.0f ms", what, response.status_code, elapsed_ms)
        self._note_date(response.headers.get("date"))
        if response.status_code in (200, 204):
            return body
        raise error_for_status(
            response.status_code,
            what,
            retry_after=response.headers.get("retry-after"),
            detail=self._redact(_short_detail(body)),
            not_found=not_found,
        )

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json_body: Any,
        content: bytes | None,
        seconds: float,
        extra_s: float,
    ) -> tuple[httpx.Response, bytes]:
        request = self._http.build_request(
            method,
            self._prefix + path,
            params=params,
            json=json_body,
            content=content,  # already JSON: sent as is
            headers={"Content-Type": "application/json"} if content is not None else None,
            timeout=self._timeouts(seconds, extra_s),
        )
        response = await self._http.send(request, stream=True)
        try:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise TransientError(f"{method} {path}: body larger than {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response, b"".join(chunks)

    def _redact(self, text: str) -> str:
        # An error page that echoes request headers must not carry the token into a log.
        # A token shorter than 8 characters would match ordinary words; it is no secret anyway.
        if self._token is None or len(self._token.get_secret_value()) < 8:
            return text
        return text.replace(self._token.get_secret_value(), "[token]")

    def _note_date(self, value: str | None) -> None:
        self.last_response_at = datetime.now(UTC)
        if value:
            try:
                self.last_server_date = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                self.last_server_date = None


def _transport_error(what: str, exc: BaseException) -> SyncError:
    """httpx's exception as ours; its text names the failure, never a header."""
    reason = str(exc) or type(exc).__name__
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return TlsError(f"{what}: TLS failed: {reason[:300]}")
        cause = cause.__cause__ or cause.__context__
    if "CERTIFICATE_VERIFY_FAILED" in reason or "SSL" in reason:
        return TlsError(f"{what}: TLS failed: {reason[:300]}")
    return TransientError(f"{what}: {type(exc).__name__}: {reason[:300]}")


def _short_detail(body: bytes) -> str:
    """The start of an error body, printable, for the log line a person will read."""
    text = body[:200].decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()
