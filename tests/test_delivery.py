"""Sender: draining the outbox to a real (fake) data center over HTTP."""

import logging
import random
import re
import sqlite3
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

import dengage_django
from dengage_django import outbox
from dengage_django.delivery.sender import Sender, backoff_delay
from dengage_django.models import OutboxEvent

from .test_events import GUIDE_EXAMPLES

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status
KEY = "11111111-2222-3333-4444-555555555555"


def record(n, **extra):
    for i in range(n):
        dengage_django.track(
            "PRODUCT_VIEW", userId=f"u{i}", sessionId="s", productId=f"P{i}", **extra
        )


def statuses():
    return dict(
        (status, OutboxEvent.objects.filter(status=status).count())
        for status in ("pending", "in_flight", "sent", "dead", "invalid")
    )


def test_every_guide_example_round_trips(fake_server):
    for body in GUIDE_EXAMPLES:
        fields = {key: value for key, value in body.items() if key != "name"}
        dengage_django.track(body["name"], **fields)
    report = Sender().drain()
    assert report.sent == len(GUIDE_EXAMPLES)
    received = fake_server.events
    assert [event["name"] for event in received] == [body["name"] for body in GUIDE_EXAMPLES]
    product_view = received[1]
    assert product_view["inStock"] is True
    assert product_view["price"] == 349.99
    assert b'"price":349.99,' in fake_server.requests[0].body
    assert statuses()["sent"] == len(GUIDE_EXAMPLES)


def test_batches_by_count(fake_server):
    record(25)
    report = Sender(batch_size=10).drain()
    assert report.sent == 25 and report.requests == 3
    assert [len(batch) for batch in fake_server.batches] == [10, 10, 5]
    # One visitor's events keep their recorded order.
    assert [e["productId"] for e in fake_server.events] == [f"P{i}" for i in range(25)]


def test_batches_by_bytes(fake_server):
    record(10, title="x" * 1000)
    report = Sender(batch_size=100, max_bytes=3500).drain()
    assert report.sent == 10
    assert all(len(request.body) <= 3500 for request in fake_server.requests)
    assert len(fake_server.batches) == 4  # three ~1.1 kB events per request


def test_limit(fake_server):
    record(30)
    assert Sender(batch_size=20).drain(limit=25).sent == 25
    assert statuses()["pending"] == 5


def test_poison_event_is_isolated_and_the_rest_sent(fake_server):
    record(100)
    fake_server.reject_events(lambda event: event["productId"] == "P37")
    report = Sender().drain()
    assert (report.sent, report.dead) == (99, 1)
    dead = OutboxEvent.objects.get(status=Status.DEAD)
    assert dead.payload["productId"] == "P37"
    assert dead.last_error == "rejected: Dengage answered BAD_INPUT"
    assert len(fake_server.events) == 99
    assert report.requests <= 2 * 7 + 1  # bisection, not one request per event


def test_http_400_is_a_bad_event_too(fake_server):
    record(4)
    fake_server.reject_events(lambda event: event["productId"] == "P0", status=400)
    report = Sender().drain()
    assert (report.sent, report.dead) == (3, 1)


@pytest.mark.parametrize("code", ["NO_DOMAIN_APIKEY_MATCH", "NO_ACCOUNT"])
def test_configuration_error_stops_and_burns_no_attempt(fake_server, code):
    record(30)
    fake_server.status_code_next(code)
    report = Sender(batch_size=10).drain()
    assert report.sent == 0
    assert code in report.configuration_error
    assert report.requests == 1
    rows = OutboxEvent.objects.all()
    assert {row.status for row in rows} == {Status.PENDING}
    assert {row.attempts for row in rows} == {0}
    # Fixed: everything goes out.
    assert Sender(batch_size=10).drain().sent == 30


def test_wrong_origin_names_the_setting(fake_server, settings):
    record(1)
    settings.DENGAGE_ORIGIN = "https://wrong.example.com"
    report = Sender().drain()
    assert "DENGAGE_ORIGIN" in report.configuration_error
    assert KEY not in report.configuration_error


def test_transient_failure_retries_later_with_backoff(fake_server):
    record(3)
    fake_server.fail_next(status=503)
    report = Sender(rng=random.Random(1)).drain()
    assert (report.sent, report.retrying) == (0, 3)
    rows = list(OutboxEvent.objects.all())
    assert {(r.status, r.attempts, r.last_error) for r in rows} == {("pending", 1, "HTTP 503")}
    # Due in 5 to 10 seconds (base 10 s, equal jitter): not yet.
    assert all(r.next_attempt_at > timezone.now() + timedelta(seconds=4) for r in rows)
    assert Sender().drain().processed == 0
    OutboxEvent.objects.update(next_attempt_at=timezone.now())
    assert Sender().drain().sent == 3
    assert len(fake_server.events) == 3


def test_retry_after_is_honoured_and_pauses_the_run(fake_server):
    record(20)
    fake_server.fail_next(status=429, retry_after=120)
    report = Sender(batch_size=10).drain()
    assert report.pause == 120.0
    assert report.requests == 1  # the run stops instead of pushing on
    tried = OutboxEvent.objects.filter(attempts=1)
    assert tried.count() == 10
    assert all(r.next_attempt_at > timezone.now() + timedelta(seconds=115) for r in tried)
    assert OutboxEvent.objects.filter(attempts=0, status="pending").count() == 10


def test_untried_chunks_of_a_failed_claim_are_released_untouched(fake_server):
    record(6, title="y" * 1000)
    fake_server.fail_next(status=500)
    report = Sender(batch_size=6, max_bytes=2500).drain()
    # The first request (2 events) failed; the 4 untried were given back
    # uncharged, claimed again and sent at their first attempt.
    assert (report.retrying, report.sent) == (2, 4)
    assert OutboxEvent.objects.filter(status="pending", attempts=1).count() == 2
    assert OutboxEvent.objects.filter(status="sent", attempts=1).count() == 4


def test_attempts_run_out_then_dead(fake_server, settings):
    settings.DENGAGE_MAX_ATTEMPTS = 2
    record(1)
    fake_server.fail_next(count=2, status=500)
    Sender().drain()
    OutboxEvent.objects.update(next_attempt_at=timezone.now())
    report = Sender().drain()
    assert report.dead == 1
    row = OutboxEvent.objects.get()
    assert (row.status, row.attempts) == (Status.DEAD, 2)
    assert row.last_error == "gave up after 2 attempts: HTTP 500"


def test_stops_after_consecutive_failures(fake_server):
    record(50)
    fake_server.fail_next(count=10, status=502)
    report = Sender(batch_size=5).drain()
    assert report.requests == 3
    assert report.retrying == 15


def test_timeouts_and_drops_retry(fake_server, settings):
    settings.DENGAGE_TIMEOUT = 0.3
    record(2)
    fake_server.delay_next(1.0)
    report = Sender(batch_size=1).drain()
    assert (report.retrying, report.sent) == (1, 1)
    assert "timed out" in OutboxEvent.objects.get(status="pending").last_error
    fake_server.drop_next()
    OutboxEvent.objects.update(next_attempt_at=timezone.now())
    report = Sender(batch_size=2).drain()
    assert report.retrying == 1
    row = OutboxEvent.objects.get(status="pending")
    assert row.attempts == 2
    assert "ConnectionError" in row.last_error


def test_invalid_events_never_reach_the_wire(fake_server, settings):
    settings.DENGAGE_STRICT = False
    record(2)
    dengage_django.track("PRODUCT_VIEW", userId="u", sessionId="s", price="abc")
    report = Sender().drain()
    assert report.sent == 2
    assert all("price" not in event or event["price"] != "abc" for event in fake_server.events)
    assert len(fake_server.events) == 2
    assert statuses()["invalid"] == 1


def test_lost_lease_events_are_not_sent(fake_server):
    record(3)
    token, claimed = outbox.claim(3, lease_seconds=30)
    # Another worker took one of them (this one's lease had run out).
    OutboxEvent.objects.filter(id=claimed[0].id).update(lease_owner="other")
    sender = Sender(lease_seconds=1)  # forces a renewal before the request
    from dengage_django.delivery.sender import DrainReport

    sender._deliver(token, claimed, DrainReport())
    assert [event["productId"] for event in fake_server.events] == ["P1", "P2"]


def test_stop_event_ends_the_drain_between_batches(fake_server):
    record(30)
    stop = threading.Event()
    sender = Sender(batch_size=10, stop_event=stop)
    send = sender.client.send

    def send_then_stop(body, count=None):  # a SIGTERM arriving during the first request
        answer = send(body, count)
        stop.set()
        return answer

    sender.client.send = send_then_stop
    report = sender.drain()
    assert report.sent == 10
    # The claim's other requests were given back untouched, for the next run.
    assert OutboxEvent.objects.filter(status="pending", attempts=0).count() == 20


def test_one_claim_serves_several_requests(fake_server):
    from django.test.utils import CaptureQueriesContext

    record(50)
    with CaptureQueriesContext(connection) as queries:
        report = Sender(batch_size=10).drain()
    assert (report.sent, report.requests) == (50, 5)
    assert [len(batch) for batch in fake_server.batches] == [10] * 5
    # Five requests, one claim: one UPDATE putting rows in flight.
    claims = [q for q in queries if re.search(r"SET [`\"]status[`\"] = 'in_flight'", q["sql"])]
    assert len(claims) == 1


def test_loop_sends_events_recorded_while_running(fake_server):
    record(5)
    stop = threading.Event()
    sender = Sender(stop_event=stop)
    reports = []

    def on_report(report):
        reports.append(report)
        if len(reports) == 1:
            record(3)
        elif sum(r.sent for r in reports) >= 8:
            stop.set()

    total = sender.loop(interval=0.05, on_report=on_report)
    assert total.sent == 8
    assert len(fake_server.events) == 8


def test_loop_pauses_on_configuration_error_then_resumes(fake_server, settings):
    settings.DENGAGE_CONFIGURATION_ERROR_PAUSE = 0.2
    record(4)
    fake_server.set_origin("https://other.example.com")
    stop = threading.Event()
    seen = []

    def on_report(report):
        seen.append(report.configuration_error)
        if len(seen) == 2:
            fake_server.set_origin("https://shop.example.com")
        if report.sent:
            stop.set()

    total = Sender(stop_event=stop).loop(interval=0.01, on_report=on_report)
    assert seen[0] and seen[1]
    assert total.sent == 4
    assert OutboxEvent.objects.filter(status="sent", attempts=1).count() == 4


def test_backoff_grows_and_is_capped():
    rng = random.Random(0)
    delays = [backoff_delay(n, base=10, cap=3600, rng=rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        full = min(3600, 10 * 2 ** (n - 1))
        assert full / 2 <= delay <= full
    assert max(delays) <= 3600


def test_looping_sender_purges_at_most_every_ten_minutes(fake_server, settings, monkeypatch):
    from dengage_django.delivery import sender as delivery

    settings.DENGAGE_RETENTION_DAYS = 1
    settings.DENGAGE_DEAD_RETENTION_DAYS = None  # tests/test_retention.py has all three
    settings.DENGAGE_INVALID_RETENTION_DAYS = None
    calls = []
    monkeypatch.setattr(delivery.outbox, "purge", lambda status, days: calls.append(days) or 0)
    sender = Sender()
    sender.purge()
    sender.purge()
    assert calls == [1]
    monkeypatch.setattr(delivery, "PURGE_EVERY", 0.0)
    sender.purge()
    assert calls == [1, 1]


@contextmanager
def database_locked():
    """Another connection locks the outbox table while ours gives up waiting
    quickly (50 ms; 1 s on MariaDB, its minimum): a real lock error, as a
    long migration or a stuck transaction would cause. Yields ``release``,
    which ends the lock early; it ends at the latest with the block."""
    connection.ensure_connection()
    vendor = connection.vendor
    table = OutboxEvent._meta.db_table
    if vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            (waited,) = cursor.fetchone()
        ours = ("PRAGMA busy_timeout = 50", f"PRAGMA busy_timeout = {int(waited)}")
        raw = sqlite3.connect(
            connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False
        )
        raw.execute("BEGIN EXCLUSIVE")
        end = "ROLLBACK"
    else:
        other = connection.copy()
        other.ensure_connection()
        raw = other.connection
        if vendor == "postgresql":
            ours = ("SET lock_timeout = '50ms'", "RESET lock_timeout")
            lock = ("BEGIN", f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            end = "ROLLBACK"
        else:
            ours = ("SET SESSION lock_wait_timeout = 1", "SET SESSION lock_wait_timeout = DEFAULT")
            lock = (f"LOCK TABLES {table} WRITE",)
            end = "UNLOCK TABLES"
        cursor = raw.cursor()
        for statement in lock:
            cursor.execute(statement)
    held = [True]

    def release():
        if held:
            held.clear()
            raw.cursor().execute(end)

    with connection.cursor() as cursor:
        cursor.execute(ours[0])
    try:
        yield release
    finally:
        release()
        raw.close()
        if connection.connection is not None and connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute(ours[1])


def kill_our_connection():
    """Another connection kills ours, as a server restart or failover would."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()")
        (ours,) = cursor.fetchone()
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            if postgres:
                cursor.execute("SELECT pg_terminate_backend(%s)", [ours])
            else:
                cursor.execute(f"KILL {int(ours)}")
    finally:
        other.close()


class _OnError(logging.Handler):
    """Calls ``action`` when the sender logs a database error."""

    def __init__(self, action):
        super().__init__(logging.ERROR)
        self.action = action

    def emit(self, record):
        if "database error" in record.getMessage():
            self.action()


def loop_until_sent(n, caplog, *, on_error=lambda: None):
    """Run a looping sender until ``n`` events are sent (30 s at most);
    returns its report and the database errors it logged."""
    stop = threading.Event()
    reports = []

    def on_report(report):
        reports.append(report)
        if sum(r.sent for r in reports) >= n:
            stop.set()

    logger = logging.getLogger("dengage_django.delivery.sender")
    handler = _OnError(on_error)
    logger.addHandler(handler)
    watchdog = threading.Timer(30, stop.set)
    watchdog.start()
    try:
        with caplog.at_level(logging.ERROR, logger="dengage_django.delivery.sender"):
            total = Sender(stop_event=stop).loop(interval=0.01, on_report=on_report)
    finally:
        watchdog.cancel()
        logger.removeHandler(handler)
    errors = [r.getMessage() for r in caplog.records if "database error" in r.getMessage()]
    return total, errors


@pytest.mark.django_db(transaction=True)
def test_loop_waits_out_a_locked_database(fake_server, caplog):
    record(5)
    # Held until the sender has logged its first error.
    with database_locked() as release:
        total, errors = loop_until_sent(5, caplog, on_error=release)
    assert total.sent == 5
    assert statuses()["sent"] == 5
    assert errors, "the failure was not logged"
    assert all(KEY not in r.getMessage() for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_loop_reconnects_after_losing_its_connection(fake_server, caplog):
    if connection.vendor == "sqlite":
        pytest.skip("an SQLite connection is a file: nothing can kill it")
    record(5)
    kill_our_connection()
    total, errors = loop_until_sent(5, caplog)
    assert total.sent == 5
    assert statuses()["sent"] == 5
    assert errors, "the failure was not logged"


@pytest.mark.django_db(transaction=True)
def test_a_single_drain_raises_database_errors(fake_server):
    """Without --loop (cron, a task), a database error fails the run loudly."""
    record(1)
    with database_locked(), pytest.raises(DatabaseError):
        Sender().drain()
    assert Sender().drain().sent == 1
