"""Every open alert reaches the associates' screens, and leaves them when it clears."""

from __future__ import annotations

import asyncio

from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, utc_now
from agent.store.connection import Store
from tests.ui.conftest import login, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.widgets.banner import AlertBanner


def _banner(app) -> str:
    banner = app.screen.query_one(AlertBanner)
    return str(banner.render()) if banner.display else ""


def test_store_it_alerts_show_on_the_banner_until_they_clear(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            assert _banner(app) == ""
            with Store(env.settings.storage.path) as store, store.write() as conn:
                raise_alert(conn, kind="credentials", key="oms", severity="critical", now=iso(utc_now()),
                            message="the OMS refuses this store's token")
                raise_alert(conn, kind="disk", key="/var", now=iso(utc_now()), message="disk 93% full")
            # Another process's commit: the terminal sees it through its database watch.
            await wait_for(pilot, lambda: "refuses this store's token" in _banner(app))
            text = _banner(app)
            assert "+1 more" in text and "F8" not in text  # nothing to acknowledge here
            with Store(env.settings.storage.path) as store, store.write() as conn:
                resolve_alert(conn, kind="credentials", key="oms", now=iso(utc_now()))
            await wait_for(pilot, lambda: "disk 93% full" in _banner(app))
            assert "token" not in _banner(app)
            with Store(env.settings.storage.path) as store, store.write() as conn:
                resolve_alert(conn, kind="disk", key="/var", now=iso(utc_now()))
            await wait_for(pilot, lambda: _banner(app) == "")

    asyncio.run(main())
