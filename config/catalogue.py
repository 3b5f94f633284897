"""Every text an associate reads, in one catalogue: the screens, dialogs, banners and slips.

Why here: config is the floor every layer stands on, so the UI, the agent's
messages and the printer templates can all take their words from one place, and
translating the product later means one catalogue per locale in this module
(``CATALOGUE`` is the English one), not a hunt through the screens.

Rules for an entry (tests/test_catalogue.py walks every one): plain words an
associate uses; no event names (``order.staged``), command lines or flags, enum
names, ``None`` or ISO timestamps. Fields are filled by ``msg``; times arrive
already formatted for the store's locale (ui.tui.fmt).
"""

from __future__ import annotations

import string

CATALOGUE: dict[str, str] = {
    # --- scans anywhere -------------------------------------------------------------------------
    "scan.unknown": "This is not a barcode this store uses. Nothing changed.",
    "scan.bin_empty": "Bin {bin} holds no order.",
    "scan.badge_logged_in": "Badge {badge}: {name} is already logged in here. F9 logs out.",
    "scan.product_no_order": "Item {gtin}: open an order to pick, then stage it (F2) to check its items.",
    "scan.unknown_order": "Order {order} is not known to this store. Check the number.",
    # --- pickup code ----------------------------------------------------------------------------
    "code.none": "No order has pickup code {code}. Ask the customer for their order number.",
    "code.many": "{count} ready orders share code {code}. Scan the order number or the bin first.",
    "code.wrong": "Wrong pickup code for order {order}. Nothing changed: scan or type it again.",
    "code.other_order": "This code is for order {other}, not {order}. Nothing changed.",
    "code.not_a_code": "That was not a pickup code. Scan the customer's code.",
    "code.picked_up": "Order {order} was already handed over ({when}).",
    "code.not_staged": "Order {order} is not ready yet: stage it in a bin (F2) before the handover.",
    "code.title": "Pickup: scan the customer's code",
    "code.prompt": "pickup code or QR, then Enter",
    # --- handover -------------------------------------------------------------------------------
    "handover.title": "Hand over this order?",
    "handover.items": "{count} item(s) in {lines} line(s)",
    "handover.bins": "Take it from bin {bins}",
    "handover.no_bin": "No bin recorded: find the bags by the order number",
    "handover.ask": "Check the name with the customer. F2 hands over, Esc stops.",
    "handover.not_done": "Handover not done. Nothing changed.",
    "handover.asking_oms": "Checking order {order} with head office...",
    # --- what rings ----------------------------------------------------------------------------
    "signal.arrival": "Customer arrived for {order}: {bay}, {vehicle}",
    "signal.late": "Order {order} is late: pick it now",
    "signal.new_order": "New order {order} to pick",
    "signal.new_orders": "{count} new orders to pick",
    "signal.more": "and {count} more: see the queue",
    "bay.unknown": "bay not given",
    "bay.named": "bay {bay}",
    "vehicle.unknown": "no vehicle given",
    "stop.cancelled": "Order {order} was cancelled. Do not hand it over.",
    # --- the KPI screen (managers) --------------------------------------------------------------
    "kpi.title": "Store figures: {period}",
    "kpi.today": "today",
    "kpi.week": "last 7 days",
    "kpi.month": "last 30 days",
    "kpi.year": "last 52 weeks",
    "kpi.counting": "Store figures: counting...",
    "kpi.orders": "Orders in {released}, ready {ready}, collected {picked_up}",
    "kpi.fulfillment": "Time to ready: average {avg}, slowest tenth {p90} (target {target})",
    "kpi.on_time": "Ready on time: {rate} (target {target})",
    "kpi.conversion": "Collected: {rate} (target {target}), no-shows {no_shows}",
    "kpi.curbside": "Curbside wait: average {avg}, slowest tenth {p90}",
    "kpi.shelf": "Short picks: {short}; cancelled items back on the shelf in {avg}",
    "kpi.chart_fulfillment": "Minutes to ready",
    "kpi.chart_rates": "Percent on time and collected",
    "kpi.legend_avg": "average",
    "kpi.legend_on_time": "on time",
    "kpi.legend_conversion": "collected",
    "kpi.spark_fulfillment": "Minutes to ready (target {target})",
    "kpi.spark_on_time": "Percent on time (target {target})",
    "kpi.not_manager": "The store figures are for managers.",
}


def fields_of(key: str) -> list[str]:
    """The names an entry needs filled in."""
    return [name for _, name, _, _ in string.Formatter().parse(CATALOGUE[key]) if name]


def msg(key: str, **fields: object) -> str:
    """The entry ``key`` with its fields filled in (a missing field is a programming error)."""
    return CATALOGUE[key].format(**fields)
