"""One-time tickets from serve-ui to the app process of one browser session.

serve-ui checks the PIN, then starts `python -m ui.serve.session` for the
browser. That process must not be startable by anyone else with a chosen
associate id in its environment: it only accepts a ticket serve-ui wrote into
the store a moment before (random, 256 bits; only its hash is stored), used
once and valid for ``TICKET_TTL_S``. The ticket also carries the session's
device id, so each handheld's events name the handheld, not the PC.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.clock import iso, utc_now
from agent.store.connection import Store

TICKET_ENV = "STORE_AGENT_SERVE_TICKET"
TICKET_TTL_S = 60


@dataclass(frozen=True)
class Grant:
    associate_id: str
    device_id: str


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue(store: Store, associate_id: str, device_id: str, *, now: datetime | None = None) -> str:
    now = now or utc_now()
    ticket = secrets.token_urlsafe(32)
    with store.write() as conn:
        conn.execute("DELETE FROM serve_tickets WHERE expires_at < ?", (iso(now),))
        conn.execute("INSERT INTO serve_tickets (ticket_hash, associate_id, device_id, expires_at)"
                     " VALUES (?, ?, ?, ?)",
                     (_hash(ticket), associate_id, device_id, iso(now + timedelta(seconds=TICKET_TTL_S))))
    return ticket


def redeem(store: Store, ticket: str, *, now: datetime | None = None) -> Grant | None:
    """The grant of ``ticket`` if serve-ui issued it and it is unused and fresh; used up here."""
    now = now or utc_now()
    with store.write() as conn:
        row = conn.execute("DELETE FROM serve_tickets WHERE ticket_hash = ? RETURNING associate_id,"
                           " device_id, expires_at", (_hash(ticket),)).fetchone()
    if row is None or row[2] < iso(now):
        return None
    return Grant(str(row[0]), str(row[1]))
