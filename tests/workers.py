"""Helpers for tests that run real ``send_dengage_outbox`` worker processes
against the test database (whichever DATABASE_URL selects) and a fake data
center: tests/test_workers.py and tests/test_reliability.py."""

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from django.db import connection

from dengage_django.models import OutboxEvent

ROOT = Path(__file__).resolve().parent.parent


def record_payload(i, visitors=50):
    return {
        "name": "PRODUCT_VIEW",
        "userId": f"u{i % visitors:02d}",
        "sessionId": "s",
        "productId": f"P{i}",
    }


def record(n, *, start=0, pad="", visitors=50):
    """``n`` PRODUCT_VIEW rows of ``visitors`` userIds in turn."""
    payloads = []
    for i in range(start, start + n):
        payload = record_payload(i, visitors)
        if pad:
            payload["params"] = {"pad": pad}
        payloads.append(payload)
    OutboxEvent.objects.bulk_create(
        OutboxEvent(name="PRODUCT_VIEW", user_id=p["userId"], payload=p) for p in payloads
    )
    return payloads


_spawned = itertools.count(1)


def spawn(server, tmp_path, *args, **settings):
    """A ``send_dengage_outbox`` process; ``settings`` become DENGAGE_* env vars.

    Output goes to files (a looping worker writes a line per drain, which
    would fill a pipe nobody reads until the end).
    """
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="tests.settings",
        DENGAGE_TEST_DB_NAME=connection.settings_dict["NAME"],
        DENGAGE_DATA_CENTER_URL=server.url,
    )
    env.update({f"DENGAGE_{name.upper()}": str(value) for name, value in settings.items()})
    number = next(_spawned)
    out = open(tmp_path / f"worker{number}.out", "w+")
    err = open(tmp_path / f"worker{number}.err", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "django", "send_dengage_outbox", "--no-progress", *args],
        env=env,
        cwd=ROOT,
        stdout=out,
        stderr=err,
        text=True,
    )
    proc.files = (out, err)
    return proc


def finish(proc, timeout=60):
    """Wait for ``proc``; returns ``(stdout, stderr)``."""
    proc.wait(timeout=timeout)
    texts = []
    for handle in proc.files:
        handle.flush()
        handle.seek(0)
        texts.append(handle.read())
        handle.close()
    return tuple(texts)


def stop(procs, timeout=60):
    """SIGTERM each process; returns their ``(returncode, stdout, stderr)``."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    results = []
    for proc in procs:
        out, err = finish(proc, timeout)
        results.append((proc.returncode, out, err))
    return results


def kill_all(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_until(predicate, timeout, what="condition", interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"{what}: not met within {timeout} s")


def count(**filters):
    return OutboxEvent.objects.filter(**filters).count()


def held_by(proc):
    """Rows ``proc`` holds (a lease token is ``host:pid:random``)."""
    return OutboxEvent.objects.filter(status="in_flight", lease_owner__contains=f":{proc.pid}:")


def delivered(server):
    return Counter(event.get("productId") for event in server.events)
