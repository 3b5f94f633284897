"""The errors of the wire: what an OMS answer means for the caller.

The client translates every httpx exception and every non-2xx answer into this
subtree at its boundary, so the agent never catches a library type. ``retryable``
tells the sender whether sending the very same request again can succeed.

    StoreAgentError                       (config.errors)
    └── SyncError
        ├── TransientError            5xx, timeout, refused/reset connection: back off, retry
        │   ├── RateLimitedError      429/503 with Retry-After: wait at least retry_after_s
        │   ├── BadResponseError      not JSON, not the schema, not one result per event
        │   ├── TlsError              handshake or certificate verification failed
        │   └── UnexpectedStatusError a status the contract does not define (e.g. 404 on /events)
        ├── BadRequestError           400: some event in the batch is invalid; split it
        ├── TooLargeError             413: halve the batch
        ├── CredentialsError          401/403: stop sending, keep everything, alert
        ├── NotFoundError             404 on GET /orders/{id}
        └── CursorExpiredError        410 on the feed: restart without `after`, reconcile

Messages name the method, path and status, never a header: the bearer token
cannot leak through ``str(error)``.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

from config.errors import StoreAgentError

# A hostile or broken server must not park the agent for days with one header.
MAX_RETRY_AFTER_S = 3600.0


class SyncError(StoreAgentError):
    """Something between the agent and the OMS went wrong."""

    exit_code = 5  # unavailable, not a bug: the command may simply be run again (docs/cli.md)
    retryable = False

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class TransientError(SyncError):
    """The same request may well succeed later: back off with full jitter and retry."""

    retryable = True


class RateLimitedError(TransientError):
    """The OMS asked us to wait: 429, or 503 with Retry-After."""

    def __init__(self, message: str, *, retry_after_s: float, status: int | None = None):
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class BadResponseError(TransientError):
    """The answer was 2xx but its body is not what the contract promises."""


class TlsError(TransientError):
    """TLS failed (untrusted certificate, client certificate refused): usually configuration."""


class UnexpectedStatusError(TransientError):
    """A status the contract does not define for this call; retrying keeps every event safe."""


class BadRequestError(SyncError):
    """400: the OMS refuses the request as invalid."""


class TooLargeError(SyncError):
    """413: the request body is too large for the OMS."""


class CredentialsError(SyncError):
    """401 or 403: the token (or client certificate) is not accepted."""


class NotFoundError(SyncError):
    """404 for one order: the OMS does not know it."""


class CursorExpiredError(SyncError):
    """410: the feed cursor is no longer valid."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None.

    A date in the past means "now" (0.0); an unparseable value means no header.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(float(int(value[:12])), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 850/asctime forms: HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def error_for_status(
    status: int,
    what: str,
    *,
    retry_after: str | None = None,
    detail: str = "",
    not_found: bool = False,
) -> SyncError:
    """The error a non-2xx answer maps to. ``what`` is e.g. "POST /events".

    ``not_found`` says 404 is a defined answer of this call (GET /orders/{id});
    anywhere else a 404 means a wrong URL, which retrying keeps safe.
    """
    suffix = f": {detail}" if detail else ""
    message = f"{what} answered {status}{suffix}"
    if status in (429, 503):
        delay = parse_retry_after(retry_after)
        if delay is not None:
            return RateLimitedError(message, retry_after_s=delay, status=status)
        return TransientError(message, status=status)
    if status >= 500 or status == 408:
        return TransientError(message, status=status)
    if status == 400:
        return BadRequestError(message, status=status)
    if status in (401, 403):
        return CredentialsError(message, status=status)
    if status == 413:
        return TooLargeError(message, status=status)
    if status == 410:
        return CursorExpiredError(message, status=status)
    if status == 404 and not_found:
        return NotFoundError(message, status=status)
    return UnexpectedStatusError(message, status=status)
