"""Picking and handoff by item (Store Sync API 1.1), at 80x24 and 40x20: a pick list in walk
order, a wrong item refused with a bell, a short item with its reason, two bins, a partial
pickup, an ID check, and a cancellation from the OMS that stops the picker on the spot."""

from __future__ import annotations

import asyncio
import json

import pytest

from sync.oms_sim import OmsSimServer, SimState
from tests.ui.conftest import (
    SIZES,
    STORE_ID,
    TOKEN,
    confirm_handover,
    login,
    message,
    no_horizontal_overflow,
    on_order,
    order,
    row,
    scan,
    seed,
    state_of,
    ui_config,
    wait_for,
)
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.handoff import BinsDialog, CollectorDialog, IdCheckDialog, PartialDialog
from ui.tui.dialogs.pick import PickDialog
from ui.tui.dialogs.pickup_code import PickupCodeDialog
from ui.tui.dialogs.short import ShortDialog
from ui.tui.screens.stop import StopScreen

GTIN_A = "4006381333931"
GTIN_B = "5901234123457"
NOT_ON_ORDER = "96385074"  # a valid GTIN-8 no line has


def walk_order(order_id: str = "W20001", **kw) -> dict:
    """Two lines listed out of walk order: B first in the snapshot, A first on the floor."""
    snap = order(order_id, **kw)
    snap["lines"] = [
        {"line_id": "L1", "sku": "SKU-B", "gtin": GTIN_B, "description": "[b]Bleach[/b] 1L",
         "quantity": 1, "location": "B12-1"},
        {"line_id": "L2", "sku": "SKU-A", "gtin": GTIN_A, "description": "Apples 1kg",
         "quantity": 2, "location": "A2-3"},
    ]
    return snap


def pick_text(app) -> str:
    return str(app.screen.query_one("#pick-lines").render())


@pytest.mark.parametrize("size", SIZES)
def test_pick_a_wrong_item_then_short_one_line(env, size):
    seed(env.settings, walk_order())

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await wait_for(pilot, lambda: on_order(app, "W20001"), what="the order")
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog), what="PickDialog")
            assert not no_horizontal_overflow(app)
            await wait_for(pilot, lambda: "Bleach" in pick_text(app), what="the pick list")
            text = pick_text(app)
            # The walk: A2-3 before B12-1, whatever order the OMS listed the lines in.
            assert text.index("Apples") < text.index("Bleach")
            # Outside text is shown as typed, never read as markup.
            assert "[b]Bleach[/b] 1L" in text
            bells: list[int] = []
            app.bell = lambda: bells.append(1)
            await scan(pilot, NOT_ON_ORDER)
            await wait_for(pilot, lambda: "WRONG ITEM" in message(app), what="the refusal")
            assert "Nothing changed" in message(app)
            assert bells, "a wrong item rings the bell"
            await scan(pilot, GTIN_A)
            await scan(pilot, GTIN_A)
            await wait_for(pilot, lambda: "2 of 2" in message(app), what="both apples")
            rung = len(bells)
            await scan(pilot, GTIN_A)  # a third apple: the line has two
            await wait_for(pilot, lambda: "WRONG ITEM" in message(app), what="one too many")
            assert len(bells) > rung
            assert row(env.settings, "SELECT quantity_verified FROM order_lines WHERE"
                       " order_id='W20001' AND line_id='L2'") == {"quantity_verified": 2}
            # The bleach is not on the shelf: the cursor is on it (the one line left), F3.
            await pilot.press("f3")
            await wait_for(pilot, lambda: isinstance(app.screen, ShortDialog), what="ShortDialog")
            assert not no_horizontal_overflow(app)
            await pilot.press("down", "enter")  # the default count (1); reason: damaged
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
            await wait_for(pilot, lambda: "short 1" in pick_text(app), what="the short on the list")
            short = row(env.settings, "SELECT data FROM outbox WHERE order_id='W20001'"
                        " AND type='order.line_short'")
            assert json.loads(short["data"])["lines"] == [
                {"line_id": "L1", "quantity": 1, "reason": "damaged"}]
            # Two totes: a bin each, then F2 stages into both.
            await pilot.press("f2")
            await wait_for(pilot, lambda: "Scan the bin" in message(app), what="Scan the bin")
            await scan(pilot, "B-21")
            await scan(pilot, "B-22")
            await wait_for(pilot, lambda: "Bins: B-21, B-22" in str(
                app.screen.query_one("#pick-bins").render()), what="both bins")
            await pilot.press("f2")
            await wait_for(pilot, lambda: on_order(app), what="back on the order")
            await wait_for(pilot, lambda: "DONE" in message(app), what="DONE")
            assert state_of(env.settings, "W20001") == "READY"
            staged = row(env.settings, "SELECT data FROM outbox WHERE order_id='W20001'"
                         " AND type='order.staged'")
            assert json.loads(staged["data"])["bins"] == ["B-21", "B-22"]

    asyncio.run(main())


def test_cancelled_online_mid_pick_stops_the_picker(env):
    seed(env.settings, walk_order())

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await pilot.press("f2")
            await scan(pilot, GTIN_A)
            await pilot.press("f3")  # the short dialog is open when the cancellation comes
            await wait_for(pilot, lambda: isinstance(app.screen, ShortDialog), what="ShortDialog")
            # The OMS cancels the order; the feed (another connection) records it.
            seed(env.settings, walk_order(status="cancelled", version=2))
            await wait_for(pilot, lambda: isinstance(app.screen, StopScreen), what="the STOP")
            assert "was cancelled while you picked it" in message(app)
            # The apple already in hand goes back: a return task, offered on the STOP.
            task = row(env.settings, "SELECT state, lines FROM return_tasks WHERE order_id='W20001'")
            assert task["state"] == "OPEN"
            assert json.loads(task["lines"]) == [{"line_id": "L2", "quantity": 1}], task
            await wait_for(pilot, lambda: bool(app.screen.query("#stop-return")), what="F6 return")
            await pilot.press("f2")
            await wait_for(pilot, lambda: on_order(app, "W20001"), what="the order")
            assert state_of(env.settings, "W20001") == "CANCELLED"

    asyncio.run(main())


def ready_in_two_bins(settings, order_id: str = "W20002") -> dict:
    """READY in two totes: apples (2) and a bottle of wine that needs an ID check."""
    from agent.orders.actions import Actions
    from agent.store.connection import Store

    snap = order(order_id)
    snap["alternate_pickup"] = {"name": "[i]Bob[/i] Jones"}
    snap["lines"] = [
        {"line_id": "L1", "sku": "SKU-A", "gtin": GTIN_A, "description": "Apples 1kg",
         "quantity": 2, "location": "A2-3"},
        {"line_id": "L2", "sku": "SKU-W", "gtin": GTIN_B, "description": "Red wine 75cl",
         "quantity": 1, "location": "C1-1", "age_restricted": True},
    ]
    seed(settings, snap)
    with Store(settings.storage.path) as store:
        Actions(store, settings).stage(order_id, bins=["B-31", "B-32"], associate_id="A100")
    return snap


@pytest.mark.parametrize("size", SIZES)
def test_partial_pickup_two_bins_an_id_check_and_the_alternate_person(tmp_path, size):
    state = SimState(token=TOKEN, seed=3)
    with OmsSimServer(state) as sim:
        settings = ui_config(tmp_path, url=sim.url)
        snap = ready_in_two_bins(settings)
        state.add_order(STORE_ID, {**snap, "status": "ready_for_pickup", "version": 2})

        async def main():
            app = StoreAgentApp(settings)
            async with app.run_test(size=size) as pilot:
                await login(pilot)
                await scan(pilot, "B-31")  # the first tote leads to its order
                await wait_for(pilot, lambda: on_order(app, "W20002"), what="the order")
                await wait_for(pilot, lambda: "Also bring B-32" in message(app), what="Also bring B-32")
                await pilot.press("f7")  # partial pickup: one apple stays for later
                await wait_for(pilot, lambda: isinstance(app.screen, PartialDialog), what="PartialDialog")
                assert not no_horizontal_overflow(app)
                await pilot.press("left")
                await pilot.press("f2")
                await wait_for(pilot, lambda: isinstance(app.screen, PickupCodeDialog),
                               what="the code dialog")
                await scan(pilot, "K7Q9MX")
                await wait_for(pilot, lambda: isinstance(app.screen, CollectorDialog),
                               what="who collects")
                # The alternate's name is the OMS's text: shown, never markup.
                shown = str(app.screen.query_one("#collectors").get_option_at_index(1).prompt)
                assert "[i]Bob[/i] Jones" in shown
                await pilot.press("down", "enter")
                from ui.tui.dialogs.handover import HandoverDialog

                await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog), what="confirm")
                await wait_for(pilot, lambda: "collecting for Ann Smith" in str(
                    app.screen.query_one("#handover-text").render()), what="who collects")
                await confirm_handover(pilot)
                # Only one of two totes scanned: the handoff asks for the other.
                await wait_for(pilot, lambda: isinstance(app.screen, BinsDialog), what="bins")
                await wait_for(pilot, lambda: "· B-32 (2 of 2)" in str(
                    app.screen.query_one("#bins-list").render()), what="the missing tote")
                assert not no_horizontal_overflow(app)
                await scan(pilot, "B-77")
                await wait_for(pilot, lambda: "not a bin of order" in message(app), what="not a bin of order")
                await scan(pilot, "B-32")
                # The wine goes now: an ID check first.
                await wait_for(pilot, lambda: isinstance(app.screen, IdCheckDialog), what="ID")
                await pilot.press("down", "enter")  # passport
                await wait_for(pilot, lambda: "DONE" in message(app) or "nothing changed"
                               in message(app), what="the handoff")
                assert "partly handed over" in message(app), message(app)
                assert state_of(settings, "W20002") == "READY"
                got = row(settings, "SELECT collected_by, id_check_type, bins_scanned, lines,"
                          " complete FROM handoffs WHERE order_id='W20002'")
                assert got["collected_by"] == "alternate" and got["id_check_type"] == "passport"
                assert json.loads(got["bins_scanned"]) == ["B-31", "B-32"]
                assert got["complete"] == 0
                assert json.loads(got["lines"]) == [{"line_id": "L1", "quantity": 1},
                                                    {"line_id": "L2", "quantity": 1}]

        asyncio.run(main())


def with_config(tmp_path, extra: str, *, url: str | None = None):
    """The UI's test configuration plus a section of this store's own."""
    from config import load_settings

    ui_config(tmp_path, url=url)
    path = tmp_path / "config.toml"
    path.write_text(path.read_text() + extra)
    return load_settings(path, environ={})


def test_policy_quantity_counts_a_line_with_f4(tmp_path):
    settings = with_config(tmp_path, '\n[picking]\nverify = "quantity"\n')
    seed(settings, walk_order())

    async def main():
        from ui.tui.dialogs.short import ConfirmQuantityDialog

        app = StoreAgentApp(settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog), what="PickDialog")
            await wait_for(pilot, lambda: "count each line" in str(
                app.screen.query_one(".dialog-title").render()), what="the policy's title")
            await scan(pilot, GTIN_A)  # under "quantity" a scan only finds the line
            assert row(settings, "SELECT quantity_verified FROM order_lines WHERE"
                       " order_id='W20001' AND line_id='L2'") == {"quantity_verified": 0}
            await pilot.press("f4")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuantityDialog), what="count")
            await pilot.press("backspace", "3", "enter")  # more than the line has: refused
            await wait_for(pilot, lambda: "1 to 2" in message(app), what="1 to 2")
            await pilot.press("backspace", "2", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog), what="the pick list")
            assert row(settings, "SELECT quantity_verified FROM order_lines WHERE"
                       " order_id='W20001' AND line_id='L2'") == {"quantity_verified": 2}
            await wait_for(pilot, lambda: "2/2" in pick_text(app), what="the count on the list")

    asyncio.run(main())


def test_a_missing_tote_waived_by_a_manager_and_the_signed_acknowledgment(tmp_path):
    from tests.ui.conftest import MANAGER_PIN
    from ui.tui.dialogs.handoff import SignedDialog
    from ui.tui.dialogs.manager import ManagerDialog

    state = SimState(token=TOKEN, seed=3)
    with OmsSimServer(state) as sim:
        settings = with_config(tmp_path, "\n[handoff]\nsigned_acknowledgment = true\n",
                               url=sim.url)
        snap = ready_in_two_bins(settings)
        state.add_order(STORE_ID, {**snap, "status": "ready_for_pickup", "version": 2})

        async def main():
            app = StoreAgentApp(settings)
            async with app.run_test(size=(80, 24)) as pilot:
                await login(pilot)
                await scan(pilot, "W20002")
                await scan(pilot, "K7Q9MX")
                await wait_for(pilot, lambda: isinstance(app.screen, CollectorDialog),
                               what="who collects")
                await pilot.press("enter")  # the customer
                await confirm_handover(pilot)
                await wait_for(pilot, lambda: isinstance(app.screen, BinsDialog), what="bins")
                await scan(pilot, "B-31")
                await pilot.press("f7")  # B-32 cannot be found: a manager decides
                await wait_for(pilot, lambda: isinstance(app.screen, ManagerDialog),
                               what="the manager")
                await scan(pilot, "M1")
                await pilot.press(*MANAGER_PIN, "enter")
                await wait_for(pilot, lambda: isinstance(app.screen, IdCheckDialog), what="ID")
                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, SignedDialog),
                               what="the signature")
                await pilot.press("escape")  # not signed: nothing is written
                await wait_for(pilot, lambda: "not signed" in message(app), what="not signed")
                assert state_of(settings, "W20002") == "READY"
                assert row(settings, "SELECT count(*) AS n FROM handoffs") == {"n": 0}
                await scan(pilot, "K7Q9MX")  # again, and this time it is signed
                await wait_for(pilot, lambda: isinstance(app.screen, CollectorDialog),
                               what="who collects")
                await pilot.press("enter")
                await confirm_handover(pilot)
                await wait_for(pilot, lambda: isinstance(app.screen, BinsDialog), what="bins")
                await pilot.press("f7")
                await wait_for(pilot, lambda: isinstance(app.screen, ManagerDialog),
                               what="the manager")
                await scan(pilot, "M1")
                await pilot.press(*MANAGER_PIN, "enter")
                await wait_for(pilot, lambda: isinstance(app.screen, IdCheckDialog), what="ID")
                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, SignedDialog),
                               what="the signature")
                await pilot.press("f2")
                await wait_for(pilot, lambda: "DONE" in message(app), what="the handoff")
                assert state_of(settings, "W20002") == "PICKED_UP"
                got = row(settings, "SELECT bins_scanned, bins_missing, bins_override_by,"
                          " acknowledgment_signed FROM handoffs WHERE order_id='W20002'")
                assert got["bins_override_by"] == "M1" and got["acknowledgment_signed"] == 1
                assert json.loads(got["bins_missing"]) == ["B-32"], got
                # The manager waived the tote only: the customer's code still verified them.
                event = row(settings, "SELECT data FROM outbox WHERE order_id='W20002'"
                            " AND type='order.picked_up'")
                assert json.loads(event["data"])["verification"] == "pickup_code"

        asyncio.run(main())


def test_cancelled_online_after_the_pick_list_closed_still_stops_the_picker(env):
    seed(env.settings, walk_order())

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await scan(pilot, GTIN_A)  # an item scanned on the order opens the pick list
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog), what="PickDialog")
            await pilot.press("escape")  # one apple in hand, the list closed
            await wait_for(pilot, lambda: on_order(app, "W20001"), what="the order")
            seed(env.settings, walk_order(status="cancelled", version=2))
            await wait_for(pilot, lambda: isinstance(app.screen, StopScreen), what="the STOP")
            await pilot.press("f6")  # the STOP offers the return of what was picked
            from ui.tui.dialogs.return_shelf import ReturnDialog

            await wait_for(pilot, lambda: isinstance(app.screen, ReturnDialog), what="ReturnDialog")

    asyncio.run(main())


def test_policy_off_stages_without_checking_items(tmp_path):
    settings = with_config(tmp_path, '\n[picking]\nverify = "off"\n')
    seed(settings, walk_order())

    async def main():
        app = StoreAgentApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog), what="the pick list")
            await scan(pilot, GTIN_A)  # finds the line, records nothing
            assert row(settings, "SELECT sum(quantity_verified) AS n FROM order_lines"
                       " WHERE order_id='W20001'") == {"n": 0}
            await pilot.press("f4")  # counting is the "quantity" policy's key only
            assert isinstance(app.screen, PickDialog)
            await scan(pilot, "B-21")
            await pilot.press("f2")
            await wait_for(pilot, lambda: on_order(app, "W20001"), what="staged")
            assert state_of(settings, "W20001") == "READY"

    asyncio.run(main())
