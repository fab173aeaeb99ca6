"""Shared pieces of the benchmarks: Django setup, helper processes, figures."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
ORIGIN = "https://shop.example.com"


def setup_django():
    """Configure bench.settings (SQLite temp file, or DATABASE_URL) and migrate."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def cpu_line(database=None):
    """``cpus: N`` (and the database vendor) for the first line of a report."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    line = f"cpus: {os.cpu_count()} (usable: {usable})  python {sys.version.split()[0]}"
    if database:
        line += f"  database: {database}"
    return line


def database_name():
    from django.db import connection

    if connection.vendor == "sqlite":
        return "sqlite (temp file)"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"postgresql {cursor.fetchone()[0].split()[0]}"
    return connection.vendor


class ServerProcess:
    """A helper HTTP server in its own process (so it never shares our GIL).

    ``argv`` must print a line containing its base URL (``http://host:port``)
    first; the URL is read from it.
    """

    def __init__(self, argv):
        self.process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
        )
        line = self.process.stdout.readline()
        match = re.search(r"(http://[\w.\-]+:\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"no URL in the helper's first line: {line!r}")
        self.url = match.group(1)

    def get_json(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def fake_dengage(delay=0.0, forget=False):
    """The fake Dengage data center in a separate process.

    Plain, it is ``python -m dengage_django.testing`` itself; with a delay or
    ``forget`` (options its CLI lacks), bench/fake_dengage.py.
    """
    if delay or forget:
        argv = [str(ROOT / "bench" / "fake_dengage.py"), "--delay", str(delay)]
        if forget:
            argv.append("--forget")
    else:
        argv = ["-m", "dengage_django.testing", "--port", "0", "--quiet"]
    return ServerProcess([*argv, "--api-key", API_KEY, "--origin", ORIGIN])


def wait_until(predicate, timeout, interval=0.005):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        time.sleep(interval)


def sample_fields(i):
    """The fields of the i-th benchmark PRODUCT_VIEW event."""
    return {
        "userId": f"u{i % 997}",
        "sessionId": f"s{i % 997}",
        "productId": f"P{i}",
        "price": "349.99",
        "device": "PC",
        "pageUrl": f"https://shop.example.com/p/{i}/",
    }


def record_events(count, *, per_transaction=False):
    """Record ``count`` events with ``track()``; returns the seconds taken."""
    from django.db import transaction

    import dengage_django

    started = time.perf_counter()
    if per_transaction:
        for i in range(count):
            dengage_django.track("PRODUCT_VIEW", **sample_fields(i))
    else:
        with transaction.atomic():
            for i in range(count):
                dengage_django.track("PRODUCT_VIEW", **sample_fields(i))
    return time.perf_counter() - started


def bulk_insert(count, *, status="pending", chunk=5000, start=0):
    """Insert ``count`` outbox rows fast (raw executemany, chunked); the
    payload is what ``track()`` would store for :func:`sample_fields`."""
    from django.db import connection, transaction
    from django.utils import timezone

    from dengage_django.events.validation import build_event
    from dengage_django.models import OutboxEvent

    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    columns = (
        "name, payload, user_id, status, attempts, next_attempt_at, lease_owner, "
        "last_error, created_at, sent_at"
    )
    placeholders = ", ".join(["%s"] * 10)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    now = timezone.now()
    template = build_event("PRODUCT_VIEW", sample_fields(0))
    sent_at = now if status == "sent" else None
    with transaction.atomic(), connection.cursor() as cursor:
        for first in range(start, start + count, chunk):
            rows = []
            for i in range(first, min(first + chunk, start + count)):
                payload = dict(template, **sample_fields(i))
                rows.append(
                    (
                        "PRODUCT_VIEW",
                        json.dumps(payload),
                        payload["userId"],
                        status,
                        1 if status == "sent" else 0,
                        now,
                        "",
                        "",
                        now,
                        sent_at,
                    )
                )
            cursor.executemany(sql, rows)


def reset_outbox():
    from django.db import connection

    from dengage_django.models import OutboxEvent

    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {table} RESTART IDENTITY")
        else:
            cursor.execute(f"DELETE FROM {table}")


def analyze():
    """Fresh planner statistics after a bulk load (what autovacuum would do)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def child_env(server_url):
    """Environment for a sender subprocess: same database, the fake server."""
    from django.db import connection

    env = dict(os.environ, DENGAGE_DATA_CENTER_URL=server_url, PYTHONPATH=str(ROOT))
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = "sqlite:///" + str(connection.settings_dict["NAME"])
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    return env


def shop_child_env(database_url, **extra):
    """Environment for a child process running the example shop through
    Django's test client: ``database_url``, persistent connections, DEBUG
    off, local ids; ``extra`` on top."""
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="example_project.shop.settings",
        DATABASE_URL=database_url,
        CONN_MAX_AGE="60",
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
        DENGAGE_ID_SOURCE="local",
        PYTHONPATH=str(ROOT),
        **extra,
    )


SENDER = ["-m", "django", "send_dengage_outbox", "--no-progress"]
