"""A pick and a partial pickup in a real terminal (tmux, 80x24 and 40x20) and in headless
Chromium through serve-ui: a wrong item, a short item, two bins, then a partial handoff
of an order in two totes with an ID check. The reference OMS runs on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.oms_sim import OmsSimServer, SimState
from tests.ui.conftest import PIN, STORE_ID, TOKEN, row, seed, state_of, ui_config
from tests.ui.serve_harness import Cdp, serve_ui
from tests.ui.terminal import Terminal, needs_tmux
from tests.ui.test_picking import GTIN_A, NOT_ON_ORDER, ready_in_two_bins, walk_order


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Path]:
    """A store with W20001 to pick and W20002 READY in two bins, and an OMS that knows both."""
    state = SimState(token=TOKEN, seed=3)
    with OmsSimServer(state) as sim:
        settings = ui_config(tmp_path, url=sim.url)
        seed(settings, walk_order())
        state.add_order(STORE_ID, walk_order())
        snap = ready_in_two_bins(settings)
        state.add_order(STORE_ID, {**snap, "status": "ready_for_pickup", "version": 2})
        yield tmp_path


def _handed_over(tmp: Path) -> None:
    settings = ui_config_from(tmp)
    assert state_of(settings, "W20001") == "READY"
    staged = row(settings, "SELECT data FROM outbox WHERE order_id='W20001' AND type='order.staged'")
    assert json.loads(staged["data"])["bins"] == ["B-21", "B-22"]
    short = row(settings, "SELECT reason FROM line_shorts WHERE order_id='W20001'")
    assert short == {"reason": "not_found"}
    got = row(settings, "SELECT id_check_type, bins_scanned, complete FROM handoffs"
              " WHERE order_id='W20002'")
    assert got["id_check_type"] == "drivers_license" and got["complete"] == 0
    assert json.loads(got["bins_scanned"]) == ["B-31", "B-32"]
    assert state_of(settings, "W20002") == "READY"


def ui_config_from(tmp: Path):
    from config import load_settings

    return load_settings(tmp / "config.toml", environ={})


# --- tmux ---------------------------------------------------------------------------------
@needs_tmux
@pytest.mark.parametrize("size", [(80, 24), (40, 20)], ids=["80x24", "40x20"])
def test_pick_and_partial_pickup_in_tmux(shop, size):
    with Terminal(shop / "config.toml", size) as term:
        keys, scan, wait = term.keys, term.scan, term.wait_for
        wait("log in")
        scan("A100")
        wait("PIN")
        scan(PIN)
        wait("To pick")
        scan("W20001")
        wait("Timeline")
        keys("F2")
        screen = wait("Bins: none yet")
        assert screen.index("Apples") < screen.index("Bleach")  # the walk: A2-3, then B12-1
        scan(NOT_ON_ORDER)
        wait("WRONG ITEM")
        scan(GTIN_A)
        scan(GTIN_A)
        wait("2 of 2")
        keys("F3")
        wait("Short pick")
        keys("Enter")  # the default count, the first reason: not found
        wait("Recorded")
        scan("B-21")
        wait("B-21")
        scan("B-22")
        wait("B-22")
        keys("F2")
        wait("DONE")
        keys("Escape")
        wait("To pick")
        scan("B-31")
        wait("Also bring")
        keys("F7")
        wait("Partial pickup")
        keys("Left", "F2")
        wait("pickup code")
        scan("K7Q9MX")
        wait("Who is collecting")
        keys("Enter")  # the customer
        wait("F2")
        keys("F2")  # the one-key handover confirm
        wait("scan every bin")
        scan("B-32")
        wait("ID check")
        keys("Enter")  # driver's license
        wait("partly handed over")
    _handed_over(shop)


# --- serve-ui in headless Chromium -----------------------------------------------------------
F_KEYS = {"F2": 113, "F3": 114, "F7": 118}


def test_pick_and_partial_pickup_in_the_browser(shop, chromium):
    async def main(base: str) -> None:
        async with Cdp.page(chromium) as cdp:
            await drive(cdp, base)

    async def drive(cdp: Cdp, base: str) -> None:
        await cdp.log_in(base, "A100", PIN)

        async def until(text: str, what: str) -> None:
            # Only what arrives from now on counts: the stream keeps everything drawn before.
            await cdp.wait(f"window.__term.slice(window.__mark).includes({json.dumps(text)})",
                           what=what)

        async def mark() -> None:
            await cdp.js("window.__mark = window.__term.length; true")

        async def fkey(name: str) -> None:
            await cdp.key(name, F_KEYS[name])

        await mark()
        await cdp.scan("W20001")
        await until("Timeline", "the order")
        await mark()
        await fkey("F2")
        await until("none yet", "the pick list")
        await mark()
        await cdp.scan(NOT_ON_ORDER)
        await until("WRONG ITEM", "the wrong item refused")
        await mark()
        await cdp.scan(GTIN_A)
        await cdp.scan(GTIN_A)
        await until("2 of 2", "both apples")
        await mark()
        await fkey("F3")
        await until("Short pick", "the short dialog")
        await mark()
        await cdp.key("Enter", 13, "\r")  # the default count, the first reason: not found
        await until("short 1", "the short recorded")
        await cdp.scan("B-21")
        await cdp.scan("B-22")
        await mark()
        await fkey("F2")
        await until("DONE", "staged in two bins")
        await mark()
        await cdp.key("Escape", 27)
        await cdp.scan("B-31")
        await until("Also bring", "the two-bin order")
        await mark()
        await fkey("F7")
        await until("Partial pickup", "the partial dialog")
        await cdp.key("ArrowLeft", 37)
        await mark()
        await fkey("F2")
        await until("pickup code", "the code dialog")
        await mark()
        await cdp.scan("K7Q9MX")
        await until("collecting", "who collects")
        await mark()
        await cdp.key("Enter", 13, "\r")
        await until("Hand over", "the handover confirm")
        await mark()
        await fkey("F2")
        await until("scan every bin", "the bins step")
        await mark()
        await cdp.scan("B-32")
        await until("ID check", "the ID check")
        await mark()
        await cdp.key("Enter", 13, "\r")
        await until("partly handed over", "the partial handoff")

    with serve_ui(shop / "config.toml") as served:
        asyncio.run(main(served.base))
    _handed_over(shop)
