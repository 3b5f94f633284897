"""`store-agent demo`: the product end to end on sample data, in a directory of its own."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from agent import queries
from agent.actions import Actions
from agent.ingest import ingest_snapshots
from agent.store import Store
from config import load_settings
from config.template import render_template
from sync.samples import sample_orders
from ui.cli import orders as order_cmds
from ui.cli.context import Context
from ui.cli.output import say


def prepare_demo_dir(directory: Path, *, oms_url: str = "http://127.0.0.1:8480") -> Path:
    """A config for the demo store, written once; the database lives beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    if not config.exists():
        text = render_template()
        text = text.replace('url = "https://oms.example.com"', f'url = "{oms_url}"')
        text = text.replace('token = "change-me"', 'token = "demo-token"')
        text = text.replace('path = "/var/lib/store-agent/agent.db"',
                            f'path = "{directory / "agent.db"}"')
        text = text.replace('address = "192.168.10.50:9100"',
                            f'address = "{directory / "printer.out"}"')
        text = text.replace('kind = "network"', 'kind = "file"')
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    return config


def cmd_demo(ctx: Context) -> int:
    directory = Path(ctx.args.dir).resolve()
    config = prepare_demo_dir(directory)
    settings = load_settings(config, environ={})
    with Store(settings.storage.path) as store:
        fresh = not queries.list_orders(store)
        if fresh:
            outcomes = ingest_snapshots(store, sample_orders(ctx.args.orders, seed=42),
                                        status_map=settings.status_map, source="seed")
            say(f"seeded {sum(outcomes.values())} sample orders into {settings.storage.path}")
            actions = Actions(store, settings)
            for n, row in enumerate(queries.list_orders(store, state="TO_PICK")[:3], 1):
                say(actions.stage(row["order_id"], bin=f"B-{n:02d}", associate_id="A100").message)
        say(f"config: {config}  (try: STORE_AGENT_CONFIG={config} store-agent orders)")
        say("")
        demo_ctx = Context(argparse.Namespace(json=False, config=str(config), station=None))
        demo_ctx._store = store
        order_cmds.cmd_status(demo_ctx)
        say("")
        demo_ctx.args = argparse.Namespace(json=False, state=None, config=str(config), station=None)
        order_cmds.cmd_orders(demo_ctx)
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[common], help="the product on sample orders")
    p.add_argument("--dir", default=".demo", help="where the demo keeps its config and database")
    p.add_argument("--orders", type=int, default=24, help="how many sample orders to seed")
    p.set_defaults(handler=cmd_demo)
