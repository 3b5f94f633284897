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
    "scan.unknown": "This is not a barcode this store uses: nothing changed.",
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
    # --- cancel ----------------------------------------------------------------------------------
    "cancel.title": "Cancel order: choose a reason",
    "cancel.note": "note (optional)",
    "cancel.hint_no_show": "The customer is past the hold time: No-show may be the reason.",
    "cancel.confirm": "Cancel order {order} as \"{reason}\"? F2 confirms, Esc goes back.",
    # --- keys, help, quitting -----------------------------------------------------------------
    "quit.title": "Close the store app on this terminal?",
    "quit.ask": "F2 closes it. Esc goes back. Orders and scans already saved stay saved.",
    "help.title": "Keys and scans",
    "help.scans": ("Scan anything, anywhere: an order number or bin opens the order, a customer's"
                   " code or QR starts the handover, a badge logs in."),
    "help.list": "Arrow keys move in the list, Enter opens the highlighted order.",
    "help.close": "Esc or F1 closes this help.",
    # --- the banner ----------------------------------------------------------------------------
    "banner.more_cancelled": "(+{count} more cancelled: F8 for each)",
    "banner.more_alerts": "(+{count} more for the manager)",
    "banner.ack": "F8 seen it",
    "banner.alert_count": "{count} alert(s) for the manager",
    "banner.acknowledged": "Marked as seen by {name}. Cancellations still to see: {left}.",
    "alert.dead_letter": ("Order {order}: head office did not accept a change from this store."
                          " A manager can send it again in Exceptions."),
    "alert.conflict": "Order {order}: the store and head office disagree. A manager decides in Exceptions.",
    "alert.quarantine": "Head office sent an order this store could not read. A manager checks Exceptions.",
    "alert.unknown_status": "Head office sent an order status this store does not know. Tell store IT.",
    "alert.oms_api_version": "Head office does not accept this store's version of a change. Tell store IT.",
    # --- exceptions a manager finishes --------------------------------------------------------
    "exception.manager_id": "manager id or badge",
    "exception.manager_pin": "manager PIN",
    "exception.reason": "what was done",
    "exception.discard_reason": "why give up (needed to give up)",
    "exception.how_settled": "how it was settled (needed)",
    "exception.as_manager": "Deciding as {name}.",
    "exception.dead_title": "{count} change(s) of order {order} not accepted by head office",
    "exception.conflict_title": "Order {order}: store and head office disagree",
    "exception.quarantine_title": "An order head office sent could not be read ({order})",
    "exception.retried": ("DONE: {count} change(s) of order {order} will be sent again."
                          " This screen says when head office answers."),
    "exception.discarded": "DONE: {count} change(s) of order {order} given up.",
    "exception.settled": "DONE: marked as settled ({order}).",
    "exception.accepted": "Order {order}: head office accepted the change sent again.",
    "exception.failed_again": "Order {order}: head office refused the change again: {why}",
    "status.never": "not synced yet",
    "return.bin_already": "Bin {bin} was scanned to open this order: put the items back, then F2.",
    # --- login and sync ------------------------------------------------------------------------
    "login.pin": "{who}: enter your PIN (Esc: another id; no PIN yet? a manager sets one)",
    "login.first": "Scan your badge or type your id first.",
    "sync.started": "Syncing with head office...",
    "sync.done": "Synced: head office accepted {acked} of {sent} change(s); {changes} update(s) received.",
    "sync.refused": "{dead} change(s) were refused: a manager sees them in Exceptions.",
    "sync.unreachable": ("Head office cannot be reached right now. Everything done here is saved"
                         " and is sent when it can be."),
    # --- cancel reasons, on slips and screens -------------------------------------------------
    "reason.customer_refused": "Customer refused the order",
    "reason.no_show": "Customer did not come",
    "reason.item_unavailable": "An item was not available",
    "reason.damaged": "Damaged",
    "reason.other": "Other",
    # --- the order's timeline: what the store told head office ---------------------------------
    "event.order.staged": "Staged in a bin",
    "event.order.picked_up": "Handed over",
    "event.order.cancelled": "Cancelled in store",
    "event.order.returned_to_shelf": "Back on the shelf",
    "event.order.line_short": "Item short",
    "event.order.hold_extended": "Hold extended",
    "pick.bin_occupied": ("Bin {bin} already holds order {order}. Scan another bin, or scan {bin}"
                          " again to share it."),
    "stop.title": "STOP",
    "stop.sub": "DO NOT HAND OVER",
    "stop.order": "Order {order} was cancelled.",
    "stop.bin": "Its items are in bin {bin}.",
    "stop.task": "A return to the shelf is open: put the items back.",
    "stop.ok": "Understood (F2)",
    "stop.return": "Return to shelf (F6)",
    "offline.title": "Head office cannot confirm: hand over anyway?",
    "offline.confirm": "Confirm F2",
    "offline.manager": "Manager F3",
    "offline.back": "Back Esc",
    "return.title": "Return to shelf: scan the bin",
    "return.prompt": "bin barcode, then Enter",
    "return.done_key": "Items are back F2",
    "return.bin_ok": "Bin {bin} is right: put the items back, then F2.",
    "return.bin_wrong": "Bin {bin} is not this order's bin ({right}). Nothing changed.",
    "return.not_a_bin": "Scan the bin's label. Nothing changed.",
    "return.bin_first": "Scan bin {bin} first.",
    "manager.title": "Manager approval",
    "order.arrived": "ARRIVED {at} {bay}, {vehicle}",
    "order.return_open": "Return to shelf: the items in bin {bin} go back (F6)",
    # --- the queue -------------------------------------------------------------------------------
    "tab.to_pick": "To pick", "tab.ready": "Ready", "tab.arrived": "Arrived", "tab.returns": "Return",
    "tab.no_shows": "No-shows", "tab.exceptions": "Exceptions",
    "col.order_id": "Order", "col.due": "Due", "col.customer_name": "Customer", "col.window": "Window",
    "col.fulfillment": "Type", "col.bin": "Bin", "col.hold": "Hold until", "col.arrival": "Arrived",
    "col.waited": "Waiting", "col.bay": "Bay", "col.arrival_vehicle": "Vehicle", "col.items": "Items",
    "col.reason": "Reason", "col.state": "State", "col.what": "What", "col.detail": "Detail",
    "state.TO_PICK": "To pick", "state.READY": "Ready", "state.PICKED_UP": "Handed over",
    "state.CANCELLED": "Cancelled",
    "exception.change": "A change",
    "exception.not_accepted": "{what}: not accepted",
    "exception.kind_conflict": "Store and head office disagree",
    "exception.kind_quarantine": "Unreadable order from head office",
    "stop.cancelled": "Order {order} was cancelled. Do not hand it over.",
    # --- picking by item (ui/tui/dialogs/pick.py, short.py) --------------------------------------
    "pick.title_scan": "Pick: scan every item, then the bin of each tote",
    "pick.title_quantity": "Pick: count each line (F4), then the bin of each tote",
    "pick.title_off": "Pick: take the items, then scan the bin of each tote",
    "pick.left": "Bins: {bins} · {count} unit(s) to pick",
    "pick.all_left": "Bins: {bins} · all picked",
    "pick.no_bins": "none yet",
    "pick.all_picked": "{done} · All picked: scan the bin of each tote, then F2.",
    "pick.wrong_item": "WRONG ITEM: {why}. Put it back. Nothing changed.",
    "pick.not_on_order": "WRONG ITEM: {gtin} is not on order {order}. Put it back.",
    "pick.not_item_or_bin": "That is not an item or a bin. Nothing changed.",
    "pick.bin_again": "Bin {bin} is already on this order.",
    "pick.bin_added": "Bin {bin} added ({count} in all). Scan the next tote's bin, or F2 to stage.",
    "pick.bin_dropped": "Bin {bin} taken off. Nothing was written.",
    "pick.need_bin": "Scan the bin of each tote first.",
    "pick.line_done": "Nothing left to pick on this line: ↑↓ to choose another.",
    "pick.scan_policy": "This store checks items by scanning each one.",
    "pick.stopped": "Order {order} was cancelled while you picked it. Stop: do not stage it.",
    "pick.done": "DONE: {what}",
    "short.title": "Short pick: how many, and why",
    "short.line": "{where} · {item}\n{left} of {wanted} still to pick",
    "short.hint": "Count, ↑↓ reason, Enter records it.",
    "short.range": "Count: 1 to {most}. Nothing changed.",
    "short.done": "Recorded: {count} × {item} short ({reason}).",
    "short.not_found": "Not found",
    "short.damaged": "Damaged",
    "short.expired": "Expired",
    "short.other": "Other",
    "count.title": "Count for this line",
    # --- handoff by item (ui/tui/dialogs/handoff.py) ---------------------------------------------
    "collect.title": "Who is collecting?",
    "collect.intro": "Order {order}: the customer named someone to collect it.",
    "collect.customer": "Customer: {name}",
    "collect.alternate": "Named by the customer: {name}",
    "collect.not_done": "Handover not done. Nothing changed.",
    "idcheck.title": "ID check: which photo ID did you see?",
    "idcheck.restricted": "Age-restricted: {items}",
    "idcheck.not_done": "Handover not done: no ID was checked. Nothing changed.",
    "id.drivers": "Driver's license",
    "id.passport": "Passport",
    "id.national": "National ID card",
    "id.other": "Other photo ID",
    "bins.title": "Handover: scan every bin of the order",
    "bins.head": "{order} · {count} bin(s)",
    "bins.row": "{bin} ({n} of {m})",
    "bins.override": "F7: a manager approves handing over without a missing bin",
    "bins.not_a_bin": "Scan a bin. Nothing changed.",
    "bins.stranger": "Bin {bin} is not a bin of order {order}: leave that tote.",
    "bins.still": "Bin {bin} ✓. Still to scan: {bins}",
    "bins.waive": "Hand over without every bin scanned: {why}",
    "partial.title": "Partial pickup: what goes now",
    "partial.hint": "↑↓ line · ←/- less · →/+ more · F2 continue",
    "partial.none": "Nothing chosen: at least one item goes, or Esc.",
    "signed.title": "Signed acknowledgment",
    "signed.hint": "F2: it is signed · Esc: it is not",
    "signed.not_done": "Handover not done: the acknowledgment is not signed. Nothing changed.",
    "order.bin_seen": "Bin {bin} ✓",
    "order.also_bring": "Bin {bin} ✓. Also bring {bins}.",
    "order.all_bins": "Bin {bin} ✓. All bins are here.",
    "order.alternate": "Named to collect: {name}",
    "handover.collector": "{name}, collecting for {customer}",
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
