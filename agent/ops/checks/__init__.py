"""doctor's checks, one function per check, each returning one ``Check`` (or None when it does
not apply): accounts (whose access is judged), permissions (config, database, device groups),
files (secrets and readability), database, oms and devices. ``agent.ops.doctor`` runs them.
None of them changes anything."""

from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    name: str
    result: str
    detail: str
    fix: str = ""
