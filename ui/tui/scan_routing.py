"""Where a scan goes when the screen it landed on did not claim it.

An associate scans whatever is in hand, on whatever screen is up: an order's
label opens that order, a bin opens the order staged in it, a customer's code
opens the handoff of the order it belongs to. Nothing here writes; the code
checks count their attempts (agent.orders.code_checks) so that codes typed at
random lock the station.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from agent.errors import UnknownOrderError
from agent.orders.code_checks import check_order_code, find_by_code
from agent.views import queries, queue_view
from config.catalogue import msg
from config.vocabulary import OrderState
from drivers.scan_parse import Scan
from ui.tui.fmt import day_hhmm

if TYPE_CHECKING:
    from ui.tui.app import StoreAgentApp

# A bin scanned to open an order still counts as scanned for its return this long after.
BIN_SCAN_VALID = timedelta(minutes=5)


class ScanRouter:
    """The app's scan routing, and its memory of the last bin scanned to open an order."""

    def __init__(self, app: StoreAgentApp):
        self.app = app
        self._bin_scan: tuple[str, str | None, datetime] | None = None

    def route(self, scan: Scan) -> None:
        """Go to what was scanned."""
        app = self.app
        if app.associate is None:
            return
        if scan.kind == "order":
            app.open_order(scan.value)
        elif scan.kind == "bin":
            order_id = queue_view.order_in_bin(app.store, scan.value)
            self._bin_scan = (scan.value, order_id, app.clock())
            if order_id is None:
                app.say(msg("scan.bin_empty", bin=scan.value), error=True)
            else:
                app.open_order(order_id, bin_scanned=scan.value)
        elif scan.kind == "pickup_code":
            self._pickup_code(scan)
        elif scan.kind == "badge":
            app.say(msg("scan.badge_logged_in", badge=scan.value, name=app.associate.name))
        elif scan.kind == "product":
            app.say(msg("scan.product_no_order", gtin=scan.value), error=True)
        else:
            app.say(msg("scan.unknown"), error=True)

    def recently_scanned_bin(self, bin_id: str, order_id: str) -> bool:
        """Was ``bin_id`` scanned to open ``order_id``, in the last few minutes?"""
        if self._bin_scan is None:
            return False
        scanned, opened, at = self._bin_scan
        return (scanned, opened) == (bin_id, order_id) and self.app.clock() - at < BIN_SCAN_VALID

    def _pickup_code(self, scan: Scan) -> None:
        """A customer's code, scanned on any screen, goes to the order it belongs to.

        Looked up across all orders, not only the one on screen nor only READY ones:
        the code of an order cancelled online must show the STOP, not "unknown code".
        """
        app = self.app
        code = scan.pickup_code or scan.value
        if scan.order_id:  # a QR names its order: the code must be that order's
            self._named_order_code(scan.order_id, code)
            return
        # Counted per station: codes typed at random until one opens a handoff lock it.
        found = find_by_code(app.store, app.settings, code, station=app.device_id)
        matches = found.matches
        if not matches:
            app.say(found.message if found.locked_for_s else msg("code.none", code=code), error=True)
            return
        on_screen = getattr(app.screen, "order_id", None)
        mine = [m for m in matches if m["order_id"] == on_screen]
        ready = [m for m in matches if m["state"] == OrderState.READY]
        if not mine and len(ready) > 1:  # codes are short: the order or its bin tells them apart
            app.say(msg("code.many", count=len(ready), code=code), error=True)
            return
        first = (mine or matches)[0]
        if first["state"] == OrderState.PICKED_UP:
            app.open_order(first["order_id"])
            app.say(msg("code.picked_up", order=first["order_id"], when=day_hhmm(first["state_changed_at"])),
                    error=True)
        elif first["state"] == OrderState.TO_PICK:
            app.open_order(first["order_id"])
            app.say(msg("code.not_staged", order=first["order_id"]), error=True)
        else:  # READY: confirm and hand over; CANCELLED: the pickup flow shows the STOP
            app.open_order(first["order_id"], then="pickup", code=code)

    def _named_order_code(self, order_id: str, code: str) -> None:
        app = self.app
        try:
            queries.order_detail(app.store, order_id)
        except UnknownOrderError:
            app.say(msg("scan.unknown_order", order=order_id), error=True)
            return
        check = check_order_code(app.store, app.settings, order_id, code, station=app.device_id)
        if check.ok:
            app.open_order(order_id, then="pickup", code=code)
        else:
            app.open_order(order_id)
            app.say(check.message if check.locked_for_s else msg("code.wrong", order=order_id), error=True)
