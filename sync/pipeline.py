"""One HTTP request pipeline for every OMS adapter: deadline, body cap, error translation,
redaction and the server's Date, each written once.

An adapter says what its answers mean (which statuses are data, which are
errors); everything between "send this" and "here are the status and the bytes"
is here, so a fix to a timeout, a TLS message or a leaked secret lands in every
adapter at once. As httpx maps its transport's exceptions in one table, the
library exceptions that can escape a request are mapped to ``sync.errors`` in
``TRANSPORT_ERRORS``: nothing of httpx leaves this module.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypedDict, Unpack

import certifi
import httpx

from config.errors import ConfigError
from sync.errors import SyncError, TlsError, TransientError

log = logging.getLogger("sync.client")

# A store PC has little memory to spare; a page of 1000 large orders stays far below this.
MAX_BODY_BYTES = 32 * 1024 * 1024
# Connecting never needs long: a slow connect is a dead network, better known early.
MAX_CONNECT_S = 5.0
# A secret shorter than this could be part of ordinary words in a message: it is redacted
# only where it stands alone (not inside a longer word), but it is redacted all the same.
MIN_SECRET_LEN = 8

def _secret_pattern(secret: str) -> re.Pattern[str]:
    if len(secret) >= MIN_SECRET_LEN:
        return re.compile(re.escape(secret))
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


# Library exceptions a request may raise, in the order they are tried, and the error each
# becomes. TLS is looked for along the whole cause chain first (httpx wraps ssl.SSLError in
# ConnectError), then the exception itself.
TRANSPORT_ERRORS: tuple[tuple[type[BaseException], type[SyncError]], ...] = (
    (ssl.SSLError, TlsError),
    (httpx.HTTPError, TransientError),
    (httpx.InvalidURL, TransientError),
    (httpx.StreamError, TransientError),
    (OSError, TransientError),
)
_CAUGHT = tuple(exc for exc, _ in TRANSPORT_ERRORS)


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


def timeouts(seconds: float, extra_s: float = 0.0) -> httpx.Timeout:
    """Per phase: connecting is capped, reading may take ``extra_s`` longer (a long poll)."""
    return httpx.Timeout(connect=min(seconds, MAX_CONNECT_S), read=seconds + extra_s, write=seconds,
                         pool=seconds)


def translate_transport_error(what: str, exc: BaseException) -> SyncError:
    """The library's exception as ours; its text names the failure, never a header."""
    reason = str(exc) or type(exc).__name__
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return TlsError(f"{what}: TLS failed: {reason[:300]}")
        cause = cause.__cause__ or cause.__context__
    if "CERTIFICATE_VERIFY_FAILED" in reason or "SSL" in reason:
        return TlsError(f"{what}: TLS failed: {reason[:300]}")
    for library_type, ours in TRANSPORT_ERRORS:
        if isinstance(exc, library_type):
            return ours(f"{what}: {type(exc).__name__}: {reason[:300]}")
    return TransientError(f"{what}: {type(exc).__name__}: {reason[:300]}")


def short_detail(body: bytes) -> str:
    """The start of an error body, printable, for the log line a person will read."""
    text = body[:200].decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


@dataclass(frozen=True)
class Reply:
    """What came back: the status, the headers an adapter reads, and the whole body."""

    status: int
    body: bytes
    retry_after: str | None
    what: str
    """``"GET /changes"``: how messages name the request."""


class RequestPipeline:
    """One OMS's HTTP connection pool: send a request, get a ``Reply`` or a ``SyncError``.

    ``secrets`` are replaced by ``[token]`` in every message built from an answer.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        secrets: Iterable[str] = (),
        timeout_s: float = 10.0,
        ca_bundle: str | Path | None = None,
        client_cert: str | Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        path_prefix: str = "",
    ):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.path_prefix = path_prefix
        """Put before every path on the wire, left out of messages (``POST /events``)."""
        verify: ssl.SSLContext | bool = True
        if self.base_url.startswith("https:") or ca_bundle or client_cert:
            verify = make_ssl_context(ca_bundle, client_cert)
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=dict(headers),  # httpx.Headers masks Authorization in its repr
            verify=verify,
            timeout=timeouts(timeout_s),
            transport=transport,
            follow_redirects=False,  # a redirect would carry the credentials to another host
        )
        self._secrets = tuple(_secret_pattern(s) for s in secrets if s)
        self.last_server_date: datetime | None = None
        """The OMS's ``Date`` header on the last answer, for a clock-skew check."""
        self.last_response_at: datetime | None = None
        """Our clock when that answer arrived."""

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        timeout_s: float | None = None,
        extra_s: float = 0.0,
    ) -> Reply:
        """One exchange, bounded as a whole by ``timeout_s`` (+ ``extra_s`` for a long poll)."""
        what = f"{method} {path}"
        seconds = timeout_s if timeout_s is not None else self.timeout_s
        started = time.monotonic()
        try:
            # httpx's timeouts are per phase; the deadline bounds the whole exchange,
            # so a server trickling one byte per read timeout cannot hold us forever.
            async with asyncio.timeout(seconds + extra_s):
                response, body = await self._exchange(method, path, params, json_body, content,
                                                      seconds, extra_s)
        except TimeoutError:
            raise TransientError(f"{what}: no answer within {seconds + extra_s:g} s") from None
        except SyncError:
            raise
        except _CAUGHT as exc:
            error = translate_transport_error(what, exc)
            raise type(error)(self.redact(str(error)), status=None) from None
        log.debug("%s -> %s in %.0f ms", what, response.status_code,
                  (time.monotonic() - started) * 1000)
        self._note_date(response.headers.get("date"))
        return Reply(response.status_code, body, response.headers.get("retry-after"), what)

    async def _exchange(self, method: str, path: str, params: Mapping[str, Any] | None,
                        json_body: Any, content: bytes | None, seconds: float, extra_s: float
                        ) -> tuple[httpx.Response, bytes]:
        request = self.http.build_request(
            method, self.path_prefix + path, params=params, json=json_body,
            content=content,  # already JSON: sent as is
            headers={"Content-Type": "application/json"} if content is not None else None,
            timeout=timeouts(seconds, extra_s),
        )
        response = await self.http.send(request, stream=True)
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

    def redact(self, text: str) -> str:
        """An error page that echoes request headers must not carry a secret into a log."""
        for secret in self._secrets:
            text = secret.sub("[token]", text)
        return text

    def detail(self, reply: Reply) -> str:
        """The start of the reply's body, printable and redacted, for an error message."""
        return self.redact(short_detail(reply.body))

    def _note_date(self, value: str | None) -> None:
        self.last_response_at = datetime.now(UTC)
        if value:
            try:
                self.last_server_date = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                self.last_server_date = None

    async def aclose(self) -> None:
        await self.http.aclose()


class ConnectOptions(TypedDict, total=False):
    """How an adapter reaches its OMS (every adapter takes these as keyword arguments)."""

    timeout_s: float
    ca_bundle: str | Path | None
    client_cert: str | Path | None
    agent_version: str
    transport: httpx.AsyncBaseTransport | None


class PipelineClient:
    """``async with``, ``aclose()`` and the Date the OMS last sent, for an adapter that owns one
    ``RequestPipeline`` as ``pipeline`` (built by ``_connect``)."""

    pipeline: RequestPipeline
    base_url: str
    store_id: str

    def _connect(self, base_url: str, store_id: str, *, headers: Mapping[str, str],
                 secrets: Iterable[str], path_prefix: str = "", **options: Unpack[ConnectOptions]
                 ) -> None:
        """Build the pipeline; ``headers`` add to the ones every request carries."""
        self.base_url = base_url.rstrip("/")
        self.store_id = store_id
        self.pipeline = RequestPipeline(
            self.base_url,
            headers={"User-Agent": f"store-agent/{options.get('agent_version', '0')}",
                     "Accept": "application/json", **headers},
            secrets=secrets, timeout_s=options.get("timeout_s", 10.0),
            ca_bundle=options.get("ca_bundle"), client_cert=options.get("client_cert"),
            transport=options.get("transport"), path_prefix=path_prefix)

    @property
    def timeout_s(self) -> float:
        return self.pipeline.timeout_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, store_id={self.store_id!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.pipeline.aclose()

    @property
    def _http(self) -> httpx.AsyncClient:
        return self.pipeline.http

    @property
    def last_server_date(self) -> datetime | None:
        return self.pipeline.last_server_date

    @property
    def last_response_at(self) -> datetime | None:
        return self.pipeline.last_response_at
