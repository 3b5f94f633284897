"""The picking and handoff screens' one door to the item-level domain (Store Sync API 1.1).

Screens call ``ItemsPort`` and read ``agent.orders.lines.Line``; every rule (which
unit may be verified, what a short pick does, which bins a handoff needs, when an
ID check is due) lives in ``agent.orders`` (picking, staging, pickup). This module
only gathers the associate's answers into the domain's arguments, so a change of
names there is a change here and nowhere else. Refusals come back unchanged, as
the domain's ``BusinessRuleError`` subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agent.orders.lines import Line
from agent.orders.picking import PickList
from config.vocabulary import IdCheckType, ShortReason

# The words (config.vocabulary), in the order the dialogs offer them; the domain
# refuses anything else.
# Each value is the catalogue entry (config.catalogue) the associate reads.
SHORT_REASON_TEXT = {ShortReason.NOT_FOUND: "short.not_found", ShortReason.DAMAGED: "short.damaged",
                     ShortReason.EXPIRED: "short.expired", ShortReason.OTHER: "short.other"}
ID_CHECK_TEXT = {IdCheckType.DRIVERS_LICENSE: "id.drivers", IdCheckType.PASSPORT: "id.passport",
                 IdCheckType.NATIONAL_ID: "id.national", IdCheckType.OTHER: "id.other"}
SHORT_REASONS: tuple[ShortReason, ...] = tuple(ShortReason)
ID_CHECK_TYPES: tuple[IdCheckType, ...] = tuple(IdCheckType)
__all__ = ["ID_CHECK_TYPES", "SHORT_REASONS", "Evidence", "ItemsPort", "Line", "PickList",
           "alternate_of", "bins_of", "port"]


def bins_of(detail: dict[str, Any]) -> list[str]:
    """Every bin (tote) of the order, first to last (``order_detail``'s ``bins``)."""
    bins = detail.get("bins")
    if bins:
        return [b["bin"] if isinstance(b, dict) else str(b) for b in bins]
    return [detail["bin"]] if detail.get("bin") else []


def alternate_of(detail: dict[str, Any]) -> str | None:
    """The person the customer named to collect the order, if any."""
    alt = detail.get("alternate_pickup")
    if isinstance(alt, dict):
        return alt.get("name") or None
    return alt or detail.get("alternate_pickup_name") or None


@dataclass
class Evidence:
    """What the associate established at the counter, passed with the handoff."""

    lines: dict[str, int] | None = None  # None: everything staged
    scanned_bins: list[str] = field(default_factory=list)
    bins_override_by: str | None = None  # a manager waived the missing totes
    id_check: str | None = None
    collected_by: Literal["customer", "alternate"] = "customer"
    acknowledgment_signed: bool = False


class ItemsPort:
    """The item-level actions of the station's ``Actions``, as the screens call them."""

    def __init__(self, app: Any):
        self.app = app

    @property
    def _who(self) -> str:
        return str(self.app.associate.id)

    def pick_list(self, order_id: str) -> PickList:
        """Lines in walking order (pick_sequence, else location), with the store's policy."""
        result: PickList = self.app.actions.pick_list(order_id)
        return result

    def verify(self, order_id: str, gtin: str) -> str:
        return str(self.app.actions.verify_item(order_id, code=gtin, associate_id=self._who).message)

    def confirm(self, order_id: str, line_id: str, quantity: int) -> str:
        return str(self.app.actions.confirm_picked(order_id, line_id=line_id, quantity=quantity,
                                                   associate_id=self._who).message)

    def short(self, order_id: str, line_id: str, quantity: int, reason: str) -> str:
        return str(self.app.actions.short(order_id, lines={line_id: quantity}, reason=reason,
                                          associate_id=self._who).message)

    def stage(self, order_id: str, bins: list[str]) -> str:
        return str(self.app.actions.stage(order_id, bins=bins, associate_id=self._who).message)

    def pickup(self, order_id: str, *, code: str | None, reached: bool, confirmed: bool,
               override_id: str | None, evidence: Evidence) -> Any:
        # A manager who waives a missing tote waives only that (bins_override_by); the
        # offline policy and a missing code need their own approval (override_id).
        return self.app.actions.pickup(
            order_id, associate_id=self._who, code=code, oms_confirmed=reached,
            confirmed=confirmed, override_id=override_id,
            bins_override_by=evidence.bins_override_by,
            lines=evidence.lines, scanned_bins=evidence.scanned_bins,
            id_check=evidence.id_check, collected_by=evidence.collected_by,
            acknowledgment_signed=evidence.acknowledgment_signed)


def port(app: Any) -> ItemsPort:
    return ItemsPort(app)
