"""Real worker processes: crash safety, concurrency, graceful stop.

Each test runs ``manage.py send_dengage_outbox`` in separate processes
against the test database (SQLite file, PostgreSQL or MariaDB, whichever the
run uses) and a FakeDengageServer, as an operator would.
"""

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from dengage_django.models import OutboxEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent


def bulk_record(n):
    OutboxEvent.objects.bulk_create(
        OutboxEvent(
            name="PRODUCT_VIEW",
            user_id=f"u{i % 50}",
            payload={
                "name": "PRODUCT_VIEW",
                "userId": f"u{i % 50}",
                "sessionId": "s",
                "productId": f"P{i}",
            },
        )
        for i in range(n)
    )


def worker(server, *args, lease=45):
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="tests.settings",
        DENGAGE_TEST_DB_NAME=connection.settings_dict["NAME"],
        DENGAGE_DATA_CENTER_URL=server.url,
        DENGAGE_LEASE_SECONDS=str(lease),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "django", "send_dengage_outbox", "--no-progress", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def delivered(server):
    return Counter(event["productId"] for event in server.events)


def test_concurrent_workers_send_every_event_exactly_once(fake_server):
    bulk_record(1500)
    fake_server.set_delay(0.02)  # a data center's latency, so workers overlap
    procs = [worker(fake_server, "--batch-size", "25") for _ in range(3)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    sent_per_worker = [int(re.search(r"^sent (\d+),", out, re.M).group(1)) for out, _ in outputs]
    assert sum(sent_per_worker) == 1500
    assert sum(1 for n in sent_per_worker if n) >= 2, sent_per_worker  # they really shared
    counts = delivered(fake_server)
    assert len(counts) == 1500
    assert set(counts.values()) == {1}, "an event was sent twice"
    assert OutboxEvent.objects.exclude(status="sent").count() == 0


def test_worker_killed_mid_batch_loses_nothing(fake_server):
    bulk_record(200)
    fake_server.set_delay(1.0)  # every request hangs long enough to be killed
    victim = worker(fake_server, "--batch-size", "50", lease=2)
    wait_until(lambda: OutboxEvent.objects.filter(status="in_flight").exists())
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert OutboxEvent.objects.filter(status="in_flight").count() == 50
    fake_server.set_delay(0)
    # The orphaned batch waits for its lease (2 s) to expire, then goes out.
    time.sleep(2.1)
    rescuer = worker(fake_server, "--batch-size", "50")
    out, err = rescuer.communicate(timeout=60)
    assert rescuer.returncode == 0, err
    counts = delivered(fake_server)
    assert set(counts) == {f"P{i}" for i in range(200)}, "an event was lost"
    # Only the batch in flight at the kill can have gone out twice.
    assert sum(counts.values()) - 200 <= 50
    assert OutboxEvent.objects.exclude(status="sent").count() == 0


def test_sigterm_finishes_the_batch_in_flight_and_exits_0(fake_server):
    bulk_record(300)
    fake_server.set_delay(0.5)
    proc = worker(fake_server, "--batch-size", "20", "--loop", "--interval", "0.1")
    wait_until(lambda: len(fake_server.requests) >= 1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping after the batch in flight" in err
    sent = int(re.search(r"^sent (\d+),", out.splitlines()[-1]).group(1))
    assert 20 <= sent < 300
    # Nothing was left half-done: every event is either sent or pending.
    assert OutboxEvent.objects.filter(status="in_flight").count() == 0
    assert OutboxEvent.objects.filter(status="sent").count() == sent == len(fake_server.events)


def test_configuration_error_exits_non_zero_in_a_real_process(fake_server):
    bulk_record(10)
    fake_server.set_origin("https://other.example.com")
    proc = worker(fake_server)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "NO_DOMAIN_APIKEY_MATCH" in err and "DENGAGE_ORIGIN" in err
    assert "11111111-2222" not in out + err
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("pending", 0)}
