"""Fault injection for the reference OMS: the ``--faults`` spec and scripted answers.

Spec grammar: comma-separated ``key=value`` pairs, whitespace ignored, empty = no faults::

    error_rate=0.2      probability of 500/502/503 without Retry-After (request not applied)
    rate_limit=0.1      probability of 429 with Retry-After (request not applied)
    retry_after=2       the Retry-After seconds of rate_limit (default 1)
    latency_ms=50       added before every answer
    lost_response=0.1   probability of applying the request, then resetting the connection
    malformed=0.05      probability of applying the request, then answering 200 with broken JSON
    down=1              reset every connection at once (down=0: up again)
    seed=7              seeds the dice, so a faulty run can be replayed

Probabilities are 0..1. Faults touch store endpoints only, never ``/admin``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from config.errors import UsageError

_PROBABILITIES = ("error_rate", "rate_limit", "lost_response", "malformed")


@dataclass
class FaultSpec:
    error_rate: float = 0.0
    rate_limit: float = 0.0
    retry_after: float = 1.0
    latency_ms: float = 0.0
    lost_response: float = 0.0
    malformed: float = 0.0
    down: bool = False
    seed: int | None = None

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Parse a spec string; UsageError names the offending pair."""
        values: dict[str, Any] = {}
        known = {f.name for f in fields(cls)}
        for pair in (spec or "").split(","):
            pair = pair.strip()
            if not pair:
                continue
            key, sep, raw = (part.strip() for part in pair.partition("="))
            if not sep or key not in known:
                raise UsageError(f"--faults: unknown or malformed {pair!r}; known: {sorted(known)}")
            try:
                if key == "down":
                    if raw not in ("0", "1", "true", "false"):
                        raise ValueError
                    values[key] = raw in ("1", "true")
                elif key == "seed":
                    values[key] = int(raw)
                else:
                    values[key] = float(raw)
            except ValueError:
                raise UsageError(f"--faults: {key} cannot be {raw!r}") from None
            bad_probability = key in _PROBABILITIES and not 0 <= values[key] <= 1
            if bad_probability or (key in ("retry_after", "latency_ms") and values[key] < 0):
                raise UsageError(f"--faults: {key}={raw} is out of range")
        return cls(**values)

    def to_spec(self) -> str:
        default = FaultSpec()
        parts = []
        for key, value in asdict(self).items():
            if value != getattr(default, key):
                parts.append(f"{key}={int(value) if isinstance(value, bool) else value}")
        return ",".join(parts)


@dataclass
class ScriptedAnswer:
    """One canned answer for the next matching store request (tests, demos of a bad day).

    ``apply`` says whether the request is still applied before the canned answer
    replaces the real one (as a lost or garbled response would).
    """

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    path_contains: str = ""
    method: str = ""
    times: int = 1
    apply: bool = False
    drop_connection: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or self.method.upper() == method) and self.path_contains in path

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScriptedAnswer:
        allowed = {f.name for f in fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        answer = cls(**data)
        if not 100 <= int(answer.status) <= 599 or answer.times < 1:
            raise ValueError("status must be 100-599 and times >= 1")
        return answer
