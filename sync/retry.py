"""How long to wait before trying the OMS again: full-jitter backoff, and Retry-After honoured
(httpx ignores it) with a little jitter so a fleet of stores does not stampede back."""

from __future__ import annotations

import random
from typing import Any


def backoff_delay(
    attempt: int, *, base: float = 1.0, cap: float = 30.0, rng: random.Random | Any = random
) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt)), attempt from 0."""
    exponent = min(max(attempt, 0), 62)  # 2**63 floats fine but says nothing more
    return rng.uniform(0.0, min(cap, base * 2.0**exponent))


def retry_after_floor(
    retry_after_s: float, rng: random.Random | Any = random, *, jitter_s: float = 1.0
) -> float:
    """Wait at least what the OMS asked, plus a little jitter so stores do not stampede back."""
    return max(retry_after_s, 0.0) + rng.uniform(0.0, jitter_s)
