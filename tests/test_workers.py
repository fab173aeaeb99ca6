"""Real worker processes: crash safety, concurrency, graceful stop.

Each test runs ``manage.py send_dengage_outbox`` in separate processes
against the test database (SQLite file, PostgreSQL or MariaDB, whichever the
run uses) and a FakeDengageServer, as an operator would.
"""

import re
import signal
import time

import pytest

from dengage_django.models import OutboxEvent

from .workers import delivered, finish, record, spawn, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_concurrent_workers_send_every_event_exactly_once(fake_server, tmp_path):
    # One visitor's events go out one claim at a time (per-visitor order):
    # with 500 visitors a claim of 250 leaves others' events to claim.
    record(1500, visitors=500)
    fake_server.set_delay(0.02)  # a data center's latency, so workers overlap
    procs = [spawn(fake_server, tmp_path, "--batch-size", "25") for _ in range(3)]
    outputs = [finish(proc, timeout=120) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    sent_per_worker = [int(re.search(r"^sent (\d+),", out, re.M).group(1)) for out, _ in outputs]
    assert sum(sent_per_worker) == 1500
    assert sum(1 for n in sent_per_worker if n) >= 2, sent_per_worker  # they really shared
    counts = delivered(fake_server)
    assert len(counts) == 1500
    assert set(counts.values()) == {1}, "an event was sent twice"
    assert OutboxEvent.objects.exclude(status="sent").count() == 0


def test_worker_killed_mid_batch_loses_nothing(fake_server, tmp_path):
    record(200)
    fake_server.set_delay(1.0)  # every request hangs long enough to be killed
    victim = spawn(fake_server, tmp_path, "--batch-size", "50", lease_seconds=2)
    wait_until(lambda: OutboxEvent.objects.filter(status="in_flight").exists(), 20, "a claim")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    # One claim takes up to ten requests' worth (10 x 50): all 200 rows.
    assert OutboxEvent.objects.filter(status="in_flight").count() == 200
    fake_server.set_delay(0)
    # The orphaned batch waits for its lease (2 s) to expire, then goes out.
    time.sleep(2.1)
    rescuer = spawn(fake_server, tmp_path, "--batch-size", "50")
    out, err = finish(rescuer)
    assert rescuer.returncode == 0, err
    counts = delivered(fake_server)
    assert set(counts) == {f"P{i}" for i in range(200)}, "an event was lost"
    # Only the batch in flight at the kill can have gone out twice.
    assert sum(counts.values()) - 200 <= 50
    assert OutboxEvent.objects.exclude(status="sent").count() == 0


def test_sigterm_finishes_the_batch_in_flight_and_exits_0(fake_server, tmp_path):
    record(300)
    fake_server.set_delay(0.5)
    proc = spawn(fake_server, tmp_path, "--batch-size", "20", "--loop", "--interval", "0.1")
    wait_until(lambda: len(fake_server.requests) >= 1, 20, "a first request")
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc, timeout=30)
    assert proc.returncode == 0, err
    assert "stopping after the batch in flight" in err
    sent = int(re.search(r"^sent (\d+),", out.splitlines()[-1]).group(1))
    assert 20 <= sent < 300
    # Nothing was left half-done: every event is either sent or pending.
    assert OutboxEvent.objects.filter(status="in_flight").count() == 0
    assert OutboxEvent.objects.filter(status="sent").count() == sent == len(fake_server.events)


def test_configuration_error_exits_non_zero_in_a_real_process(fake_server, tmp_path):
    record(10)
    fake_server.set_origin("https://other.example.com")
    proc = spawn(fake_server, tmp_path)
    out, err = finish(proc, timeout=30)
    assert proc.returncode == 2
    assert "NO_DOMAIN_APIKEY_MATCH" in err and "DENGAGE_ORIGIN" in err
    assert "11111111-2222" not in out + err
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("pending", 0)}
