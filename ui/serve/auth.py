"""The rules of serve-ui's front, without any I/O: origins, web sessions, the login rate limit.

Every time comes from an injectable ``clock`` (monotonic seconds), so tests
expire sessions and rate-limit windows by moving the clock instead of waiting.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Clock = Callable[[], float]

SESSION_MAX_S = 12 * 3600
"""A web session ends this long after login however busy it is (a shift), in seconds."""
LOGIN_FAILURES = 5
"""Failed logins allowed per associate id and per client address within LOGIN_WINDOW_S."""
LOGIN_WINDOW_S = 60.0


# --- origins ---------------------------------------------------------------------------
def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in the form a browser sends it, or None when it is not one.

    Lower case, default ports dropped (a browser never sends ``:443`` for https).
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def listen_origin(host: str, port: int, *, tls: bool) -> str | None:
    """The Origin a browser sends for a page served from the listen address itself."""
    if host in ("", "0.0.0.0", "::"):  # every interface: no single address the browser would use
        return None
    return normalize_origin(f"{'https' if tls else 'http'}://{bracket_host(host)}:{port}")


def allowed_origins(configured: Iterable[str], host: str, port: int, *, tls: bool) -> frozenset[str]:
    """ui.allowed_origins, normalized; when empty, only the listen address itself."""
    configured = list(configured)
    if configured:
        found = {normalize_origin(o) for o in configured}
        return frozenset(o for o in found if o is not None)
    own = listen_origin(host, port, tls=tls)
    return frozenset({own} if own else set())


def origin_allowed(origin: str | None, allowed: frozenset[str]) -> bool:
    """A missing or foreign Origin is refused: browsers always send one on POST and websockets."""
    if not origin:
        return False
    return normalize_origin(origin) in allowed


def bracket_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


# --- web sessions ----------------------------------------------------------------------
@dataclass
class WebSession:
    token: str
    associate_id: str
    created: float
    last_seen: float
    device_id: str = ""
    """What this session's events name as their device (handheld-2), never the PC's station."""


class Sessions:
    """Logged-in browsers, by a random cookie token (256 bits from ``secrets``).

    Kept in memory on purpose: a restart of serve-ui logs every handheld out,
    which is the safe direction, and the tokens never touch the disk. A session
    ends after ``idle_s`` without input, ``max_s`` after login, or at logout.
    """

    def __init__(self, idle_s: float, *, max_s: float = SESSION_MAX_S, clock: Clock = time.monotonic):
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        self._by_token: dict[str, WebSession] = {}

    def create(self, associate_id: str, device_id: str = "") -> WebSession:
        self._prune()
        now = self.clock()
        session = WebSession(secrets.token_urlsafe(32), associate_id, now, now, device_id)
        self._by_token[session.token] = session
        return session

    def get(self, token: str | None) -> WebSession | None:
        """The live session of this token, or None (and an expired one is forgotten)."""
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        if not self._alive(session, self.clock()):
            del self._by_token[token]
            return None
        return session

    def touch(self, token: str) -> None:
        session = self.get(token)
        if session is not None:
            session.last_seen = self.clock()

    def end(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)

    def __len__(self) -> int:
        self._prune()
        return len(self._by_token)

    def device_ids(self) -> set[str]:
        """Device ids of the live sessions."""
        self._prune()
        return {s.device_id for s in self._by_token.values()}

    def _alive(self, session: WebSession, now: float) -> bool:
        return now - session.last_seen < self.idle_s and now - session.created < self.max_s

    def _prune(self) -> None:
        now = self.clock()
        for token in [t for t, s in self._by_token.items() if not self._alive(s, now)]:
            del self._by_token[token]


def free_device_id(configured: list[str], in_use: set[str]) -> str:
    """The first configured handheld id no live session has, else handheld-<n> with the
    smallest free n: every served session's events name a device of their own."""
    for device_id in configured:
        if device_id not in in_use:
            return device_id
    n = 1
    while f"handheld-{n}" in in_use:
        n += 1
    return f"handheld-{n}"


# --- login rate limit ------------------------------------------------------------------
class RateLimiter:
    """At most ``limit`` failures per key within ``window_s`` (a sliding window).

    Keys are the submitted associate id and the client address, so neither one
    associate's PIN nor many associates from one handheld can be guessed fast.
    A blocked attempt is refused before the PIN is even hashed.
    """

    def __init__(self, limit: int = LOGIN_FAILURES, window_s: float = LOGIN_WINDOW_S, *,
                 clock: Clock = time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again; 0 when none is blocked."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                wait = max(wait, times[0] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self._recent(key, now).append(now)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(self._failures) > 10_000:  # a flood of made-up ids must not grow memory forever
            for stale in [k for k, v in self._failures.items() if not v and k != key]:
                del self._failures[stale]
        return times
