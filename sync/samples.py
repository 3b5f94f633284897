"""Realistic, deterministic sample orders in contract JSON (for the reference OMS, demos, tests).

Same seed, same ``now``: same orders, byte for byte, so a failing test or a demo
script can be replayed.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.models import to_rfc3339

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a pickup code is read aloud and typed in by hand.
PICKUP_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"

_FIRST = [
    "Dana",
    "Priya",
    "Mateo",
    "Aisha",
    "Jonas",
    "Mei",
    "Lucas",
    "Fatima",
    "Noah",
    "Sofia",
    "Kwame",
    "Elena",
    "Omar",
    "Hannah",
    "Ravi",
    "Chloe",
    "Diego",
    "Ingrid",
    "Yusuf",
    "Grace",
]
_LAST = [
    "Okafor",
    "Nguyen",
    "Schmidt",
    "Garcia",
    "Kowalski",
    "Tanaka",
    "Haddad",
    "Johansson",
    "Murphy",
    "Rossi",
    "Fernandes",
    "Cohen",
    "Dubois",
    "Patel",
    "Novak",
    "Moreau",
]
_CATALOG = [
    ("Cordless drill 18V", "TL"),
    ("AA batteries, 12 pack", "EL"),
    ("LED bulb 9W E27, 4 pack", "EL"),
    ("Garden hose 15 m", "GD"),
    ("Paint roller set", "PT"),
    ("Interior paint white 2.5 L", "PT"),
    ("Extension cord 5 m", "EL"),
    ("Work gloves size L", "TL"),
    ("Potting soil 20 L", "GD"),
    ("Coffee beans 1 kg", "GR"),
    ("Kids' rain jacket 110", "AP"),
    ("Bath towel, grey", "HM"),
    ("Stainless water bottle", "HM"),
    ("Board game: Harbour", "TY"),
    ("USB-C charger 30W", "EL"),
    ("Dog food 12 kg", "PE"),
    ("Printer paper A4, 500", "OF"),
    ("Frying pan 28 cm", "HM"),
]
_VEHICLES = [
    "blue Toyota Corolla",
    "white Ford Transit",
    "red VW Golf",
    "black Tesla Model 3",
    "silver Honda CR-V",
    "green Skoda Octavia",
]


def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for the digits of a GTIN without its last digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin_is_valid(gtin: str) -> bool:
    return gtin.isdigit() and len(gtin) in (8, 12, 13, 14) and gs1_check_digit(gtin[:-1]) == gtin[-1]


def sample_gtin13(rng: random.Random) -> str:
    body = rng.choice(["400", "500", "730", "871", "590"]) + "".join(
        rng.choice("0123456789") for _ in range(9)
    )
    return body + gs1_check_digit(body)


def sample_pickup_code(rng: random.Random, length: int = 8) -> str:
    # 8 of 25 symbols: about 37 bits, hopeless to guess within the attempt limits.
    # The order number is never the code: customers see it in every email.
    return "".join(rng.choice(PICKUP_ALPHABET) for _ in range(length))


# Aisle of each department, for the API 1.1 line location ("A12-3": aisle, bay, shelf).
_AISLES = {"TL": "A", "EL": "B", "GD": "C", "PT": "D", "GR": "E", "AP": "F", "HM": "G",
           "TY": "H", "PE": "J", "OF": "K"}


def sample_location(sku: str) -> str:
    """Where a sample SKU lives: derived from the SKU, so the same item is always in one place
    (and no random number is drawn: the samples of a seed stay what they were)."""
    dept, _, digits = sku.partition("-")
    number = int(digits) if digits.isdigit() else 0
    return f"{_AISLES.get(dept, 'Z')}{number % 14 + 1}-{number // 14 % 5 + 1}"


def sample_lines(rng: random.Random) -> list[dict[str, Any]]:
    items = rng.sample(_CATALOG, rng.randint(1, 4))
    lines = []
    for number, (description, dept) in enumerate(items, start=1):
        sku = f"{dept}-{rng.randint(10000, 99999)}"
        lines.append(
            {
                "line_id": str(number),
                "sku": sku,
                "gtin": sample_gtin13(rng),
                "description": description,
                "quantity": rng.choices([1, 2, 3, 4], weights=[70, 18, 8, 4])[0],
                "location": sample_location(sku),
            }
        )
    return lines


def sample_snapshot(
    rng: random.Random,
    order_id: str,
    now: datetime,
    status: str = "released",
    version: int = 1,
) -> dict[str, Any]:
    """One order as the OMS would send it: contract JSON with RFC 3339 ``Z`` timestamps."""
    now = now.astimezone(UTC).replace(microsecond=0)
    window_start = (now + timedelta(hours=rng.randint(1, 30))).replace(minute=0, second=0)
    window_end = window_start + timedelta(hours=rng.choice([2, 4]))
    curbside = rng.random() < 0.3
    return {
        "order_id": order_id,
        "version": version,
        "status": status,
        "fulfillment": "curbside" if curbside else "pickup",
        "customer": {
            "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            "phone_last4": None if rng.random() < 0.1 else f"{rng.randint(0, 9999):04d}",
        },
        "pickup_code": sample_pickup_code(rng),
        "pickup_window": {"start": to_rfc3339(window_start), "end": to_rfc3339(window_end)},
        "hold_until": to_rfc3339(window_end + timedelta(days=3)),
        "lines": sample_lines(rng),
        "arrival": None,
        "updated_at": to_rfc3339(now - timedelta(minutes=rng.randint(1, 90))),
    }


def sample_arrival(rng: random.Random, now: datetime) -> dict[str, Any]:
    return {
        "arrived_at": to_rfc3339(now),
        "bay": f"Bay {rng.randint(1, 8)}",
        "vehicle": rng.choice(_VEHICLES),
    }


def sample_orders(
    n: int, seed: int = 42, now: datetime | None = None, first_number: int = 1000001
) -> list[dict[str, Any]]:
    """``n`` orders ``W1000001``, ``W1000002``...: mostly released, about a fifth ready."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    orders = []
    for number in range(first_number, first_number + n):
        status = "ready_for_pickup" if rng.random() < 0.2 else "released"
        orders.append(
            sample_snapshot(rng, f"W{number}", now, status=status, version=1 if status == "released" else 2)
        )
    return orders
