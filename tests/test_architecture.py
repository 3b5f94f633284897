"""The layering promise: ui -> agent -> (drivers | sync) -> config, and a headless daemon."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    proc = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_agent_loads_no_textual():
    code = (
        "import sys, importlib, pkgutil, agent\n"
        "for m in pkgutil.walk_packages(agent.__path__, 'agent.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'textual_serve', 'ui'))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"agent pulled in: {proc.stdout}"


def test_sync_and_drivers_never_touch_sqlite():
    for package in ("sync", "drivers", "config"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text()
            assert not re.search(r"^\s*(import|from)\s+sqlite", text, re.M), path


def _subclasses(cls):
    out = set()
    for sub in cls.__subclasses__():
        out.add(sub)
        out |= _subclasses(sub)
    return out


def test_error_tree_is_drawn_where_it_lives():
    """Every error class appears in the docstring tree of the module that defines it."""
    import importlib
    import pkgutil

    import config.errors as root_module
    from config.errors import StoreAgentError

    for package in ("agent", "sync", "drivers", "config"):
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, f"{package}."):
            importlib.import_module(info.name)
    for cls in _subclasses(StoreAgentError):
        if cls.__module__.startswith(("tests", "__main__")) or cls.__name__.startswith("_"):
            continue
        module = sys.modules[cls.__module__]
        drawn = (module.__doc__ or "") + (root_module.__doc__ or "")
        assert re.search(rf"\b{cls.__name__}\b", drawn), f"{cls.__module__}.{cls.__name__} not drawn"


ROOMS = ("store", "orders", "associates", "alerts", "views", "workers", "printing", "ops", "kpis")


def test_every_room_says_what_it_owns():
    found = {p.parent.name for p in (REPO / "agent").glob("*/__init__.py")}
    assert set(ROOMS) <= found, set(ROOMS) - found
    for room in sorted(found):  # a new room says what it owns too
        init = REPO / "agent" / room / "__init__.py"
        doc = init.read_text().lstrip()
        assert doc.startswith('"""'), f"agent/{room} does not say what it owns"
        assert len(doc.split('"""')[1].strip()) > 10, f"agent/{room} does not say what it owns"


def test_room_contracts_catch_a_wrong_arrow(tmp_path):
    """The contracts have teeth: a store module reaching up into the workers, and the UI opening
    a printer driver directly, each break a contract (on a copy of the tree, not the real one)."""
    import shutil

    for package in ("agent", "ui", "drivers", "sync", "config"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "agent" / "store" / "schema.py").open("a") as f:
        f.write("\nimport agent.workers.sender  # noqa\n")
    with (tmp_path / "ui" / "cli" / "main.py").open("a") as f:
        f.write("\nimport drivers.printer_usb  # noqa\n")
    proc = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    out = proc.stdout
    assert re.search(r"agent\.store is the floor.*BROKEN", out, re.S), out
    assert re.search(r"ui reaches drivers and sync only where listed BROKEN", out), out


def test_only_the_typed_accessors_touch_sync_state():
    """The key/value table is read and written through agent.store.sync_state only."""
    allowed = {REPO / "agent" / "store" / name for name in (
        "sync_state.py", "schema.py", "schema_history_1.py", "schema_history_2.py")}
    for package in ("agent", "ui", "sync", "drivers", "config"):
        for path in (REPO / package).rglob("*.py"):
            if path in allowed:
                continue
            text = path.read_text()
            assert not re.search(r"(FROM|INTO|UPDATE|TABLE)\s+sync_state\b", text, re.I), path
