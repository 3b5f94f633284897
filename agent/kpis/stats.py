"""Summaries of a list of durations: average and percentiles, None when there is nothing to count."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks.

    The "inclusive" definition spreadsheets use (PERCENTILE.INC): rank
    p/100 * (n - 1) counted from 0, so p50 of [10, 20] is 15 and p90 of
    [10, 20, 30, 40, 50] is 46.
    """
    if not sorted_values:
        return None
    rank = p / 100 * (len(sorted_values) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summary(values: Sequence[float], *quantiles: int) -> dict[str, float | None]:
    """``{"avg": .., "p50": .., ...}`` in seconds rounded to 0.1 s; every value None when empty."""
    ordered = sorted(values)
    out: dict[str, float | None] = {"avg": _round(sum(ordered) / len(ordered)) if ordered else None}
    for q in quantiles:
        out[f"p{q}"] = _round(percentile(ordered, q))
    return out


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to count."""
    return None if whole == 0 else round(part / whole, 4)
