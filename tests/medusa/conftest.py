"""One real Medusa server (and its PostgreSQL) for the whole `medusa` session, and a store per test."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.orders.actions import Actions
from agent.store.connection import Store
from config import load_settings
from tests.factories import BASE_CONFIG
from tests.medusa.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Admin,
    MedusaServer,
    PostgresServer,
    log,
    project_dir,
)
from tests.medusa.shop import Shop, setup_shop


@dataclass
class MedusaEnv:
    server: MedusaServer
    admin: Admin
    shop: Shop


@pytest.fixture(scope="session")
def medusa() -> Iterator[MedusaEnv]:
    started = time.monotonic()
    project = project_dir()
    workdir = Path(tempfile.mkdtemp(prefix="store-agent-medusa-"))
    pg = server = admin = None
    try:
        pg = PostgresServer(workdir)
        server = MedusaServer(project, pg.url, workdir)
        server.medusa("db:migrate")
        server.medusa("user", "-e", ADMIN_EMAIL, "-p", ADMIN_PASSWORD)
        server.start()
        admin = Admin(server.url)
        admin.login()
        shop = setup_shop(admin)
        log(f"medusa ready at {server.url} in {time.monotonic() - started:.0f} s")
        yield MedusaEnv(server, admin, shop)
    finally:
        if admin is not None:
            admin.close()
        if server is not None:
            server.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class StoreEnv:
    settings: object
    store: Store
    actions: Actions


@pytest.fixture
def agent(medusa: MedusaEnv, tmp_path: Path) -> Iterator[StoreEnv]:
    text = BASE_CONFIG.format(db=tmp_path / "agent.db", policy="warn", tmp=tmp_path)
    text = text.replace('url = "http://127.0.0.1:9"', f'kind = "medusa"\nurl = "{medusa.server.url}"')
    text = text.replace('token = "test-token-not-secret"', f'token = "{medusa.admin.secret_key}"')
    text = text.replace("timeout_s = 2", "timeout_s = 10")
    text += (f'\n[oms.medusa]\nstock_location_id = "{medusa.shop.location_id}"\n'
             f'sales_channel_id = "{medusa.shop.sales_channel_id}"\npoll_s = 0.5\n')
    path = tmp_path / "config.toml"
    path.write_text(text)
    settings = load_settings(path, environ={})
    store = Store(settings.storage.path)
    yield StoreEnv(settings, store, Actions(store, settings))
    store.close()
