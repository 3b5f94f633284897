"""The offline handoff policy: what a pickup does when the OMS cannot be asked.

A pure decision, so every branch is testable without a network: the pickup
action calls it only when the live check could not reach the OMS.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.clock import describe_age
from agent.errors import (
    ConfirmationNeededError,
    ManagerOverrideNeededError,
    NotAManagerError,
    UnknownAssociateError,
)
from config.settings import Associate


def require_manager(who: Associate | None, override_id: str) -> None:
    """A named override must be a real manager whatever the policy: the event
    records it, and a wrong name is a refusal, not a shrug."""
    if who is None:
        raise UnknownAssociateError(f"--override-by {override_id}: not in the roster")
    if who.role != "manager":
        raise NotAManagerError(f"--override-by {override_id}: {who.name} is not a manager")


@dataclass(frozen=True)
class OfflineVerdict:
    policy_applied: str  # allow, warn or manager: after staleness escalation
    override_by: str | None
    staleness_note: str


def decide_offline(
    *,
    policy: str,
    staleness_s: float | None,
    max_staleness_min: int,
    confirmed: bool,
    override_id: str | None,
) -> OfflineVerdict:
    """Allow the handoff, or raise the error naming what a person must do.

    ``staleness_s`` is the age of the store's copy (None: never heard from the OMS).
    ``override_id`` must already have been checked with ``require_manager``.
    """
    note = f"last heard from the OMS {describe_age(staleness_s)}"
    effective = policy
    too_stale = staleness_s is None or staleness_s > max_staleness_min * 60
    if policy == "warn" and too_stale:
        effective = "manager"
    if effective == "allow":
        return OfflineVerdict("allow", override_id, note)
    if effective == "warn":
        if confirmed or override_id is not None:
            return OfflineVerdict("warn", override_id, note)
        raise ConfirmationNeededError(
            f"the OMS cannot confirm this order right now ({note}); the customer may have"
            " cancelled online. Confirm the handoff with --yes"
        )
    if override_id is None:
        why = (
            f"the store's copy is older than {max_staleness_min} min"
            if policy == "warn"
            else "the offline policy is 'manager'"
        )
        raise ManagerOverrideNeededError(
            f"the OMS cannot confirm this order right now ({note}) and {why};"
            " a manager must approve with --override-by MANAGER"
        )
    return OfflineVerdict("manager", override_id, note)
