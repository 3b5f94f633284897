"""The flows started from an order: pick and stage, pickup (with the live check and the
handoff's evidence steps), partial pickup, cancel, return.

Every flow ends in one ``agent.orders.actions`` call; the screen reports "done" only
after it returned, i.e. after COMMIT. A refusal changes nothing and is shown
with a bell.
"""

from __future__ import annotations

from typing import Any

from agent.clock import iso, utc_now
from agent.errors import (
    BinNotScannedError,
    BusinessRuleError,
    ConfirmationNeededError,
    IdCheckNeededError,
    ManagerOverrideNeededError,
    OrderCancelledError,
    StoreAgentError,
    StoreError,
)
from config.catalogue import msg
from config.vocabulary import CancelReason, OrderState
from ui.tui.fmt import refusal
from ui.tui.items import Evidence, alternate_of, port
from ui.tui.messages import LiveChecked


class OrderFlows:
    """Mixed into OrderView: needs ``order_id``, ``detail``, ``say``, ``refresh_data`` and
    ``showing`` (on screen with nothing in front)."""

    _live_generation = 0
    # The handoff under way: what the associate established so far (bins, ID, who, lines).
    _evidence: Evidence | None = None

    # --- pick and stage -------------------------------------------------------
    def action_stage(self, first_gtin: str | None = None) -> None:
        from ui.tui.dialogs.pick import PickDialog

        self.app.push_screen(PickDialog(self.detail, first_gtin=first_gtin), self._flow_done)

    def _flow_done(self, message: object) -> None:
        from ui.tui.dialogs.pick import Stopped

        if isinstance(message, Stopped):  # cancelled online mid-pick: the red STOP, now
            self._stop(message.message)
            return
        self.refresh_data()
        if message:
            self.say(str(message))

    # --- cancel and return ----------------------------------------------------
    def action_cancel_order(self) -> None:
        from ui.tui.dialogs.cancel import CancelDialog

        hold = self.detail.get("hold_until")
        late = hold is not None and hold < iso(utc_now())
        self.app.push_screen(CancelDialog(self.detail, reason=CancelReason.NO_SHOW if late else None),
                             self._flow_done)

    def action_return_shelf(self) -> None:
        from ui.tui.dialogs.return_shelf import ReturnDialog

        self.app.push_screen(ReturnDialog(self.detail), self._flow_done)

    # --- pickup ---------------------------------------------------------------
    def action_pickup(self) -> None:
        self.start_pickup(None)

    def action_partial(self) -> None:
        from ui.tui.dialogs.handoff import PartialDialog

        def chosen(lines: dict[str, int] | None) -> None:
            if lines:
                self.start_pickup(None, lines=lines)

        try:
            lines = port(self.app).pick_list(self.order_id).lines
        except StoreAgentError as exc:  # busy or failing store, or an order gone: say so
            self.say(refusal(exc), error=True)
            return
        self.app.push_screen(PartialDialog(self.detail, lines), chosen)

    def start_pickup(self, code: str | None, *, lines: dict[str, int] | None = None) -> None:
        self.refresh_data()
        if self.detail.get("state") == OrderState.CANCELLED:
            self._stop(msg("stop.cancelled", order=self.order_id))
            return
        self._evidence = Evidence(lines=lines, scanned_bins=sorted(self.bins_scanned))
        if code is None:
            from ui.tui.dialogs.pickup_code import PickupCodeDialog

            self.app.push_screen(PickupCodeDialog(self.detail), self._code_entered)
            return
        self._code_entered(code)

    def _code_entered(self, code: str | None) -> None:
        if not code:
            return
        alternate = alternate_of(self.detail)
        if alternate:
            from ui.tui.dialogs.handoff import CollectorDialog

            def chosen(who: str | None) -> None:
                if who and self._evidence is not None:
                    self._evidence.collected_by = "alternate" if who == "alternate" else "customer"
                    self._check_live(code)
                else:
                    self.say(msg("collect.not_done"))

            self.app.push_screen(CollectorDialog(self.detail, alternate), chosen)
            return
        self._check_live(code)

    def _check_live(self, code: str) -> None:
        self._live_generation += 1
        self.say(msg("handover.asking_oms", order=self.order_id))
        self.run_worker(self._live_check(self._live_generation, code), group="live",
                        exclusive=True, exit_on_error=False)

    async def _live_check(self, generation: int, code: str) -> None:
        # Imported here, not at the top: it brings in the HTTP client, a tenth of the
        # UI's launch. The app imports it once logged in (StoreAgentApp._settle_heap).
        from agent.workers.live_check import check_order

        try:
            check = await check_order(self.app.store, self.app.settings, self.order_id)
        except StoreAgentError as exc:
            self.post_message(LiveChecked(generation, self.order_id, code, False, str(exc), exc))
            return
        self.post_message(LiveChecked(generation, self.order_id, code, check.reached, check.detail))

    def on_live_checked(self, message: LiveChecked) -> None:
        message.stop()
        if (message.generation != self._live_generation or message.order_id != self.order_id
                or not self.showing):
            return  # an answer to a pickup that was abandoned, restarted or left
        self.say("")  # the question is answered: "checking..." is no longer true
        if message.error is not None:
            self.refresh_data()
            self.say(str(message.error), error=True)
            return
        self.refresh_data()  # the live check may have applied a cancellation
        if self.detail.get("state") == OrderState.CANCELLED:
            self._stop(msg("stop.cancelled", order=self.order_id))
            return
        self._confirm_handover(message.code, reached=message.reached)

    def _confirm_handover(self, code: str | None, *, reached: bool) -> None:
        """One key, after the associate has seen customer, bin and item count: then record."""
        from ui.tui.dialogs.handover import HandoverDialog

        order_id = self.order_id

        def answered(answer: str | None) -> None:
            if answer == "confirm" and self.order_id == order_id:
                self._hand_over(code, reached=reached)
            else:
                self.say(msg("handover.not_done"))

        detail = self.detail
        going = self._evidence.lines if self._evidence is not None else None
        if going:  # a partial pickup: the confirm counts only what goes now
            detail = {**detail, "lines": [{**ln, "quantity": going[ln["line_id"]]}
                                          for ln in detail["lines"] if ln["line_id"] in going]}
        alternate = alternate_of(detail)
        if alternate and self._evidence is not None and self._evidence.collected_by == "alternate":
            # The person at the counter is the one named on the order: the confirm says so.
            detail = {**detail, "customer_name": msg("handover.collector", name=alternate,
                                                     customer=detail["customer_name"])}
        self.app.push_screen(HandoverDialog(detail), answered)

    def _hand_over(self, code: str | None, *, reached: bool, confirmed: bool = False,
                   override_id: str | None = None) -> None:
        from ui.tui.dialogs.manager import ManagerDialog
        from ui.tui.dialogs.offline import OfflineWarnDialog

        app = self.app
        evidence = self._evidence or Evidence(scanned_bins=sorted(self.bins_scanned))
        self._evidence = evidence
        try:
            result = port(app).pickup(self.order_id, code=code, reached=reached,
                                      confirmed=confirmed, override_id=override_id,
                                      evidence=evidence)
        except OrderCancelledError as exc:
            self._stop(str(exc))
            return
        except BinNotScannedError as exc:
            self._ask_bins(str(exc), code, reached=reached, confirmed=confirmed,
                           override_id=override_id)
            return
        except IdCheckNeededError as exc:
            from ui.tui.dialogs.handoff import IdCheckDialog

            def checked(id_type: str | None) -> None:
                if id_type:
                    evidence.id_check = id_type
                    self._hand_over(code, reached=reached, confirmed=confirmed,
                                    override_id=override_id)
                else:
                    self.say(msg("idcheck.not_done"), error=True)

            taking = evidence.lines  # None: everything still staged
            try:
                lines = port(app).pick_list(self.order_id).lines
            except StoreAgentError as err:
                self.say(refusal(err), error=True)
                return
            going = [ln for ln in lines if (taking.get(ln.line_id, 0) if taking is not None
                                            else ln.remaining_to_hand_over())]
            app.push_screen(IdCheckDialog(str(exc), going), checked)
            return
        except ConfirmationNeededError as exc:
            if app.settings.handoff.signed_acknowledgment and not evidence.acknowledgment_signed:
                self._ask_signature(str(exc), code, reached=reached, confirmed=confirmed,
                                    override_id=override_id)
                return
            warning = str(exc)

            def after_warning(answer: str | None) -> None:
                if answer == "confirm":
                    self._hand_over(code, reached=reached, confirmed=True)
                elif answer == "manager":
                    app.push_screen(ManagerDialog(warning), after_manager)
                else:
                    self.say(msg("handover.not_done"))

            def after_manager(manager_id: str | None) -> None:
                if manager_id:
                    self._hand_over(code, reached=reached, override_id=manager_id)
                else:
                    self.say(msg("handover.not_done"))

            app.push_screen(OfflineWarnDialog(warning), after_warning)
            return
        except ManagerOverrideNeededError as exc:
            def after_override(manager_id: str | None) -> None:
                if manager_id:
                    self._hand_over(code, reached=reached, override_id=manager_id)
                else:
                    self.say(msg("handover.not_done"))

            app.push_screen(ManagerDialog(str(exc)), after_override)
            return
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.refresh_data()
            self.say(refusal(exc), error=True)
            return
        self._evidence = None
        self.bins_scanned.clear()
        self.refresh_data()
        self.say(f"DONE: {result.message}. {receipt_note(app)}")

    def _ask_signature(self, reason: str, code: str | None, *, reached: bool, confirmed: bool,
                       override_id: str | None) -> None:
        """This store has the customer sign the printed acknowledgment: the associate says so."""
        from ui.tui.dialogs.handoff import SignedDialog

        evidence = self._evidence
        assert evidence is not None

        def answered(signed: bool | None) -> None:
            if signed:
                evidence.acknowledgment_signed = True
                self._hand_over(code, reached=reached, confirmed=confirmed, override_id=override_id)
            else:
                self.say(msg("signed.not_done"), error=True)

        self.app.push_screen(SignedDialog(reason), answered)

    def _ask_bins(self, reason: str, code: str | None, *, reached: bool, confirmed: bool,
                  override_id: str | None) -> None:
        """A tote was not scanned: scan it, or a manager waives it (recorded with the pickup)."""
        from ui.tui.dialogs.handoff import BinsDialog
        from ui.tui.dialogs.manager import ManagerDialog

        app = self.app
        evidence = self._evidence
        assert evidence is not None

        def again() -> None:
            self._hand_over(code, reached=reached, confirmed=confirmed, override_id=override_id)

        def waived(manager_id: str | None) -> None:
            if manager_id:
                evidence.bins_override_by = manager_id
                again()
            else:
                self.say(msg("handover.not_done"))

        def scanned(answer: tuple[list[str], str | None] | None) -> None:
            if answer is None:
                self.say(msg("handover.not_done"))
                return
            evidence.scanned_bins = answer[0]
            self.bins_scanned.update(answer[0])
            if answer[1] == "override":
                app.push_screen(ManagerDialog(msg("bins.waive", why=reason)), waived)
            else:
                again()

        app.push_screen(BinsDialog(self.detail, evidence.scanned_bins, reason), scanned)

    def _stop(self, message: str) -> None:
        from ui.tui.screens.stop import StopScreen

        if any(isinstance(s, StopScreen) for s in self.app.screen_stack):
            return  # one STOP at a time: the pick list and the order may both see the cancel
        self.refresh_data()
        self.app.push_screen(StopScreen(message, self.detail), self._after_stop)

    def _after_stop(self, answer: str | None) -> None:
        self.refresh_data()
        if answer == "return":
            self.action_return_shelf()


def receipt_note(app: Any) -> str:
    """The handoff queued its receipt in its own transaction (agent.orders.actions); say where it goes."""
    station = app.settings.station_by_id(app.station_id)
    if station is None or station.printer is None:
        return "No receipt: this station has no printer."
    return f"Receipt queued for {station.printer}."
