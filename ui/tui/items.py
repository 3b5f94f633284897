"""The picking and handoff screens' one door to the item-level domain (Store Sync API 1.1).

Screens never reach ``agent.orders`` for items directly: they read a ``PickLine`` list
and call ``ItemsPort``. Every rule (which unit may be verified, what a short pick
does, which bins a handoff needs, when an ID check is due) lives in the domain; this
module only translates names, so a change there is a change here and nowhere else.
Refusals come back as the domain's ``BusinessRuleError`` subclasses, unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import agent.errors
from config.errors import BusinessRuleError


class _NeverRaised(BusinessRuleError):
    """Stands in for a 1.1 refusal the domain in this build does not have."""


# The 1.1 refusals the handoff answers with a step of its own (agent/errors.py).
WrongItemError: type[BusinessRuleError] = getattr(agent.errors, "WrongItemError", _NeverRaised)
BinNotScannedError: type[BusinessRuleError] = getattr(agent.errors, "BinNotScannedError", _NeverRaised)
IdCheckNeededError: type[BusinessRuleError] = getattr(agent.errors, "IdCheckNeededError", _NeverRaised)

SHORT_REASONS: tuple[str, ...] = ("not_found", "damaged", "expired", "other")
SHORT_REASON_TEXT = {"not_found": "Not found", "damaged": "Damaged", "expired": "Expired",
                     "other": "Other"}
ID_CHECK_TYPES: tuple[str, ...] = ("drivers_license", "passport", "national_id", "other")
ID_CHECK_TEXT = {"drivers_license": "Driver's license", "passport": "Passport",
                 "national_id": "National ID card", "other": "Other photo ID"}
VerifyPolicy = Literal["scan", "quantity", "off"]


@dataclass(frozen=True)
class PickLine:
    """One line as the picker sees it; quantities in units of the line."""

    line_id: str
    description: str
    gtin: str | None
    location: str | None
    quantity: int  # still wanted: ordered less what the OMS cancelled
    verified: int
    short: int
    picked: int | None
    picked_up: int
    age_restricted: bool

    @property
    def to_pick(self) -> int:
        """Units neither verified nor recorded short."""
        return max(0, self.quantity - self.verified - self.short)

    @property
    def handover_left(self) -> int:
        """Units staged and not yet handed over."""
        staged = self.quantity - self.short if self.picked is None else self.picked
        return max(0, staged - self.picked_up)


def _natural(text: str | None) -> tuple[Any, ...]:
    """"A2" before "A12": digit runs compare as numbers. No location walks last."""
    if not text:
        return (1,)
    return (0, *[(0, int(p), "") if p.isdigit() else (1, 0, p.lower())
                 for p in re.split(r"(\d+)", text) if p])


def pick_lines(detail: dict[str, Any]) -> list[PickLine]:
    """The order's lines in pick-path order (the spec: ``pick_sequence``, else ``location``)."""
    lines = [
        PickLine(
            line_id=ln["line_id"], description=ln["description"], gtin=ln.get("gtin"),
            location=ln.get("location"),
            quantity=ln["quantity"] - (ln.get("quantity_cancelled") or 0),
            verified=ln.get("quantity_verified") or 0, short=ln.get("quantity_short") or 0,
            picked=ln.get("quantity_picked"), picked_up=ln.get("quantity_picked_up") or 0,
            age_restricted=bool(ln.get("age_restricted")),
        )
        for ln in detail.get("lines", [])
    ]
    seq = {ln["line_id"]: ln.get("pick_sequence") for ln in detail.get("lines", [])}
    return sorted(lines, key=lambda p: (seq[p.line_id] is None, seq[p.line_id] or 0,
                                        _natural(p.location)))


def bins_of(detail: dict[str, Any]) -> list[str]:
    """Every bin (tote) of the order, first to last."""
    bins = detail.get("bins")
    if bins:
        return [b["bin"] if isinstance(b, dict) else str(b) for b in bins]
    return [detail["bin"]] if detail.get("bin") else []


def alternate_of(detail: dict[str, Any]) -> str | None:
    alt = detail.get("alternate_pickup")
    if isinstance(alt, dict):
        return alt.get("name") or None
    return alt or None


@dataclass
class Evidence:
    """What the associate established at the counter, passed with the handoff."""

    lines: dict[str, int] | None = None  # None: everything staged
    bins_scanned: list[str] = field(default_factory=list)
    bins_override_by: str | None = None
    id_check: str | None = None
    collected_by: Literal["customer", "alternate"] = "customer"


class ItemsPort:
    """The item-level actions of one station, as the screens call them."""

    def __init__(self, app: Any):
        self.app = app
        # Before 1.1 the agent records no verification or short pick: this dialog keeps
        # them for the session and stage() sends what was picked (version 1's short pick).
        self._local: dict[str, dict[str, tuple[int, int]]] = {}

    def lines(self, detail: dict[str, Any]) -> list[PickLine]:
        """``pick_lines`` with what this session verified, when the domain does not record it."""
        lines = pick_lines(detail)
        local = self._local.get(detail.get("order_id", ""), {})
        if self.itemised or not local:
            return lines
        return [PickLine(**{**p.__dict__, "verified": local.get(p.line_id, (0, 0))[0],
                            "short": local.get(p.line_id, (0, 0))[1]}) for p in lines]

    def _bump(self, order_id: str, line_id: str, verified: int = 0, short: int = 0) -> None:
        was = self._local.setdefault(order_id, {}).get(line_id, (0, 0))
        self._local[order_id][line_id] = (was[0] + verified, was[1] + short)

    @property
    def _actions(self) -> Any:
        return self.app.actions

    @property
    def _who(self) -> str:
        return str(self.app.associate.id)

    @property
    def itemised(self) -> bool:
        """The 1.1 domain is present (several bins, short picks, handoff evidence)."""
        return hasattr(self._actions, "short")

    def policy(self) -> VerifyPolicy:
        picking = getattr(self.app.settings, "picking", None)
        return picking.verify if picking is not None else "scan"

    def verify(self, detail: dict[str, Any], gtin: str) -> str:
        order_id = detail["order_id"]
        if self.itemised:
            result = self._actions.verify_item(order_id, gtin=gtin, associate_id=self._who)
            return str(result.message)
        lines = [p for p in self.lines(detail) if p.gtin and p.gtin.zfill(14) == gtin]
        if not lines:
            raise WrongItemError(f"item {gtin} is not on order {order_id}: put it back")
        line = next((p for p in lines if p.to_pick), None)
        if line is None:
            raise WrongItemError(f"item {gtin}: already scanned as many as ordered")
        self._bump(order_id, line.line_id, verified=1)
        return f"{line.description} ✓"

    def confirm(self, detail: dict[str, Any], line_id: str, quantity: int) -> str:
        if self.itemised:
            result = self._actions.confirm_quantity(detail["order_id"], line_id=line_id,
                                                    quantity=quantity, associate_id=self._who)
            return str(result.message)
        self._bump(detail["order_id"], line_id, verified=quantity)
        return f"line {line_id}: {quantity} confirmed"

    def short(self, detail: dict[str, Any], line_id: str, quantity: int, reason: str) -> str:
        if self.itemised:
            result = self._actions.short(
                detail["order_id"],
                lines=[{"line_id": line_id, "quantity": quantity, "reason": reason}],
                associate_id=self._who)
            return str(result.message)
        self._bump(detail["order_id"], line_id, short=quantity)
        return f"line {line_id}: {quantity} short ({reason}), recorded when staged"

    def stage(self, detail: dict[str, Any], bins: list[str]) -> str:
        order_id = detail["order_id"]
        if self.itemised:
            result = self._actions.stage(order_id, bins=bins, associate_id=self._who)
        elif len(bins) > 1:
            raise BusinessRuleError("this agent stages an order in one bin only")
        else:
            local = self._local.get(order_id, {})
            left = sum(p.to_pick for p in self.lines(detail))
            if local and left:
                raise BusinessRuleError(f"{left} item(s) not checked yet: scan them, or record"
                                        " them short")
            picked = {p.line_id: p.quantity - p.short for p in self.lines(detail)} if local else None
            result = self._actions.stage(order_id, bin=bins[0], associate_id=self._who,
                                         picked=picked)
            self._local.pop(order_id, None)
        return str(result.message)

    def pickup(self, order_id: str, *, code: str | None, reached: bool, confirmed: bool,
               override_id: str | None, evidence: Evidence) -> Any:
        kwargs: dict[str, Any] = {}
        if self.itemised:
            kwargs = {"lines": evidence.lines, "bins_scanned": evidence.bins_scanned,
                      "bins_override_by": evidence.bins_override_by,
                      "id_check": evidence.id_check, "collected_by": evidence.collected_by}
        return self._actions.pickup(order_id, associate_id=self._who, code=code,
                                    oms_confirmed=reached, confirmed=confirmed,
                                    override_id=override_id, **kwargs)


def port(app: Any) -> ItemsPort:
    """The app's one port (it holds the session's verifications before 1.1)."""
    found = getattr(app, "_items_port", None)
    if found is None:
        found = ItemsPort(app)
        app._items_port = found
    return found
