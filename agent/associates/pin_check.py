"""Checking an associate's PIN, everywhere the same: the login, a manager's approval, a
dead-letter decision, serve-ui's login and the CLI's manager actions.

One answer for every refusal ("wrong id or PIN"): an unknown id, an id without
a PIN, someone who is not a manager and a wrong PIN all read alike and cost
the same time (a dummy hash is checked), so nobody learns which ids exist or
who the managers are. Every refusal counts against the id typed
(agent.associates.attempts): after ``security.pin_max_failures`` in a row the
id is locked, for longer each time, and an alert is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from agent.associates import attempts, roster
from agent.associates.pins import hash_pin, verify_pin
from agent.clock import utc_now
from agent.store.connection import Store
from config import Settings
from config.settings import Associate

WRONG = "wrong id or PIN"


@dataclass(frozen=True)
class PinCheck:
    associate: Associate | None
    """Who it is, when the PIN was right (and the role fits)."""
    message: str = ""
    """Empty when right; else the one message to show."""
    locked_for_s: int | None = None
    """Set when the id is locked (now or by this attempt)."""

    @property
    def ok(self) -> bool:
        return self.associate is not None


@cache
def _dummy_hash() -> str:
    # A wrong id costs one scrypt, like a right id with a wrong PIN.
    return hash_pin("00000000")


def locked_message(seconds: int) -> str:
    return f"too many wrong attempts for this id: try again in {seconds} s"


def check_pin(store: Store, settings: Settings, associate_id: str, pin: str, *,
              manager: bool = False, where: str = "", now: datetime | None = None) -> PinCheck:
    """Is ``pin`` the PIN of ``associate_id`` (a manager, if ``manager``)? Counted either way."""
    now = now or utc_now()
    subject = associate_id.strip()[:64] or "(empty)"
    policy = attempts.pin_policy(settings)
    with store.read() as conn:
        lock = attempts.locked(conn, policy, subject, now)
    if lock is not None:
        seconds = lock.seconds_left(now)
        return PinCheck(None, locked_message(seconds), seconds)
    who = settings.associate(subject)
    stored = roster.stored_hash(settings, subject) if who is not None else None
    right = verify_pin(pin, stored or _dummy_hash())
    ok = right and who is not None and stored is not None and (not manager or who.role == "manager")
    with store.write() as conn:
        if ok:
            attempts.record_success(conn, policy, subject, now)
            return PinCheck(who)
        new_lock = attempts.record_failure(conn, policy, subject, now, where=where)
    if new_lock is not None:
        seconds = new_lock.seconds_left(now)
        return PinCheck(None, locked_message(seconds), seconds)
    return PinCheck(None, WRONG)
