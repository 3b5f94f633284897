"""Wrong PINs and pickup codes lock, escalate, persist and alert; refusals never tell who is who."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.associates.pin_check import WRONG, check_pin
from agent.associates.pins import hash_pin
from agent.associates.roster import set_pin_hash
from agent.clock import utc_now
from agent.errors import WrongPickupCodeError
from agent.orders.code_checks import check_order_code, find_by_code
from agent.store.connection import Store
from tests.factories import snapshot

PIN, MANAGER_PIN = "246800", "135700"


@pytest.fixture
def pins(store):
    set_pin_hash(store, "A100", hash_pin(PIN))
    set_pin_hash(store, "M1", hash_pin(MANAGER_PIN))
    return store


def _lockouts(store) -> list[dict]:
    return [dict(r) for r in store.conn.execute(
        "SELECT key, severity, message FROM alerts WHERE kind = 'lockout' AND resolved_at IS NULL")]


def test_one_message_for_unknown_id_not_a_manager_and_wrong_pin(pins, settings):
    now = utc_now()
    answers = {
        "unknown id": check_pin(pins, settings, "Z999", PIN, manager=True, now=now),
        "not a manager": check_pin(pins, settings, "A100", PIN, manager=True, now=now),
        "wrong PIN": check_pin(pins, settings, "M1", "000000", manager=True, now=now),
    }
    assert {(a.associate, a.message) for a in answers.values()} == {(None, WRONG)}
    right = check_pin(pins, settings, "M1", MANAGER_PIN, manager=True, now=now)
    assert right.ok and right.associate.id == "M1"


def test_wrong_pins_lock_the_id_escalate_persist_and_alert(pins, settings):
    now = utc_now()
    limit = settings.security.pin_max_failures
    for _ in range(limit - 1):
        assert check_pin(pins, settings, "A100", "000000", now=now).message == WRONG
    locked = check_pin(pins, settings, "A100", "000000", now=now, where="station backroom-1")
    assert locked.locked_for_s == settings.security.pin_lockout_s
    alerts = _lockouts(pins)
    assert len(alerts) == 1 and alerts[0]["key"] == "pin:A100" and alerts[0]["severity"] == "critical"
    assert "backroom-1" in alerts[0]["message"]
    # Locked everywhere (another connection, as another terminal would be), even for the right PIN.
    with Store(settings.storage.path) as other:
        refused = check_pin(other, settings, "A100", PIN, now=now + timedelta(seconds=30))
    assert not refused.ok and refused.locked_for_s == 30
    # Another id is not locked.
    assert check_pin(pins, settings, "M1", MANAGER_PIN, now=now).ok
    # After the lock, the next run of failures locks twice as long.
    later = now + timedelta(seconds=settings.security.pin_lockout_s + 1)
    for _ in range(limit - 1):
        check_pin(pins, settings, "A100", "000000", now=later)
    again = check_pin(pins, settings, "A100", "000000", now=later)
    assert again.locked_for_s == 2 * settings.security.pin_lockout_s
    # The right PIN once the lock is over: in, and the alert is resolved.
    after = later + timedelta(seconds=again.locked_for_s + 1)
    assert check_pin(pins, settings, "A100", PIN, now=after).ok
    assert _lockouts(pins) == []


def test_lockouts_are_capped(pins, settings):
    now = utc_now()
    lock = None
    for _round in range(12):
        for _ in range(settings.security.pin_max_failures):
            lock = check_pin(pins, settings, "A100", "000000", now=now)
        now += timedelta(seconds=lock.locked_for_s + 1)
    assert lock.locked_for_s == settings.security.lockout_max_s


@pytest.fixture
def two_ready(seed, actions, store):
    seed(snapshot("W1001", code="K7Q9MX42"), snapshot("W1002", code="ZZ9ZZ9ZZ"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    actions.stage("W1002", bin="B-08", associate_id="A100")
    return store


def test_wrong_codes_lock_the_order_and_alert_and_a_manager_still_can(two_ready, settings, actions):
    now = utc_now()
    limit = settings.security.code_max_failures_per_order
    for i in range(limit - 1):
        check = check_order_code(two_ready, settings, "W1001", f"GUESS{i:03d}", station="counter", now=now)
        assert not check.ok and check.locked_for_s is None
    check = check_order_code(two_ready, settings, "W1001", "GUESSLST", station="counter", now=now)
    assert check.locked_for_s == settings.security.code_lockout_s and "W1001" in check.message
    # The right code, from another station, is refused while the order is locked...
    assert not check_order_code(two_ready, settings, "W1001", "K7Q9MX42", station="handheld-1",
                                now=now).ok
    with pytest.raises(WrongPickupCodeError, match="locked"):
        actions.pickup("W1001", associate_id="A100", code="K7Q9MX42", oms_confirmed=True)
    assert any(a["key"] == "code_order:W1001" for a in _lockouts(two_ready))
    # ... while another order is not, and a manager's override still hands it over.
    assert check_order_code(two_ready, settings, "W1002", "ZZ9ZZ9ZZ", station="counter", now=now).ok
    done = actions.pickup("W1001", associate_id="A100", code=None, override_id="M1", oms_confirmed=True)
    assert done.state == "PICKED_UP"


def test_codes_typed_at_random_lock_the_station(two_ready, settings):
    now = utc_now()
    limit = settings.security.code_max_failures_per_station
    for i in range(limit - 1):
        found = find_by_code(two_ready, settings, f"NOPE{i:04d}", station="counter", now=now)
        assert not found.ok and found.matches == [] and found.locked_for_s is None
    found = find_by_code(two_ready, settings, "NOPELAST", station="counter", now=now)
    assert found.locked_for_s == settings.security.code_lockout_s and "counter" in found.message
    # Even a real code is not looked up at a locked station; another station still works.
    assert find_by_code(two_ready, settings, "ZZ9ZZ9ZZ", station="counter", now=now).matches == []
    assert [m["order_id"] for m in find_by_code(two_ready, settings, "ZZ9ZZ9ZZ", station="handheld-2",
                                                now=now).matches] == ["W1002"]
    assert any(a["key"] == "code_station:counter" for a in _lockouts(two_ready))


def test_cli_pickup_with_wrong_codes_locks(cli, tmp_path):
    import json

    path = tmp_path / "snaps.json"
    path.write_text(json.dumps([snapshot("W1001", code="K7Q9MX42")]))
    assert cli("import-snapshots", str(path)).code == 0
    assert cli("order", "stage", "W1001", "--bin", "B-07", "--as", "A100").code == 0
    for i in range(5):
        r = cli("order", "pickup", "W1001", "--code", f"WRONG{i:03d}", "--as", "A100", "--yes")
        assert r.code == 3, r.err
    r = cli("order", "pickup", "W1001", "--code", "K7Q9MX42", "--as", "A100", "--yes")
    assert r.code == 3 and "locked" in r.err, r.err
