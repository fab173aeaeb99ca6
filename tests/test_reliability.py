"""Reliability under load and faults: the outbox loses nothing.

Every test runs real ``send_dengage_outbox`` processes against the test
database (whichever DATABASE_URL selects) and a fake data center, the way
tests/test_workers.py does, with short retry delays, timeouts and leases
passed through the environment (tests/settings.py reads them).

The fake server used here (:class:`ObservedServer`) also notes, per events
request, when it arrived and how long the server held it, so a test can tell
which accepted batches were answered after the client had given up (the only
way, besides a crash, that Dengage gets an event twice).
"""

import json
import signal
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from dengage_django.events.validation import encode_event
from dengage_django.models import OutboxEvent
from dengage_django.testing import EVENTS_PATH, FakeDengageServer

from .workers import (
    count,
    delivered,
    finish,
    held_by,
    kill_all,
    record,
    record_payload,
    spawn,
    stop,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


class ObservedServer(FakeDengageServer):
    """A FakeDengageServer that also times each events request.

    ``observed`` holds ``(seconds held, HTTP status, statusCode, event count)``
    per events request, in the order they were answered; ``arrivals`` counts
    events requests as they come in (before any injected delay).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._observed_lock = threading.Condition()
        self.observed = []
        self.arrivals = 0

    def _handle(self, method, path, query, headers, body):
        if path != EVENTS_PATH:
            return super()._handle(method, path, query, headers, body)
        with self._observed_lock:
            self.arrivals += 1
            self._observed_lock.notify_all()
        start = time.monotonic()
        answer = super()._handle(method, path, query, headers, body)
        held = time.monotonic() - start
        try:
            count = len(json.loads(body))
        except ValueError:
            count = 0
        with self._observed_lock:
            self.observed.append((held, answer.status, answer.status_code, count))
        return answer

    def answered(self):
        """How many events requests were answered so far."""
        with self._observed_lock:
            return len(self.observed)

    def wait_for_arrivals(self, n, timeout=20.0):
        with self._observed_lock:
            if not self._observed_lock.wait_for(lambda: self.arrivals >= n, timeout):
                raise AssertionError(f"{n} requests expected, {self.arrivals} arrived")

    def late_accepted(self, seconds):
        """``(requests, events)`` the server accepted after holding them
        ``seconds`` or longer."""
        with self._observed_lock:
            late = [
                count
                for held, status, code, count in self.observed
                if status == 200 and code is None and held >= seconds
            ]
        return len(late), sum(late)


@pytest.fixture
def server(settings):
    with ObservedServer(api_key=settings.DENGAGE_API_KEY, origin=settings.DENGAGE_ORIGIN) as fake:
        settings.DENGAGE_DATA_CENTER_URL = fake.url
        yield fake


# -- 1. Soak -----------------------------------------------------------------

SOAK_TIMEOUT = 0.5  # the workers' read (and connect) timeout
LATE = 0.8 * SOAK_TIMEOUT
SOAK_SETTINGS = dict(
    retry_base_delay=0.05,
    retry_max_delay=0.5,
    lease_seconds=3,
    timeout=SOAK_TIMEOUT,
    connect_timeout=SOAK_TIMEOUT,
    max_attempts=1000,
)
SETTLE = 0.2  # seconds between two looks at a frozen worker's rows
LEASE_MARGIN = timedelta(seconds=1.5)  # lease left, at least, when the victim is killed


@contextmanager
def short_sqlite_wait():
    """On SQLite, give up waiting for a lock after 0.2 s (not 5): a worker
    frozen while it holds the write lock must not stall the others."""
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            (waited,) = cursor.fetchone()
            cursor.execute("PRAGMA busy_timeout = 200")
    try:
        yield
    finally:
        if sqlite:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {int(waited)}")


def frozen_holding(victim):
    """How many rows the frozen ``victim`` holds, or 0 if that can't be used.

    A frozen process sends nothing new, but a statement it had already sent (a
    release of its unsent chunks after a failure, a commit) still runs on the
    database server: wait until two looks SETTLE seconds apart agree. Rows
    whose lease runs out before the kill is checked could be reclaimed by
    another worker in between, so a victim near the end of its lease is let
    go. On SQLite a victim frozen while holding the write lock blocks every
    reader: let it go too.
    """
    try:
        with short_sqlite_wait():
            looks = [None]
            while True:
                time.sleep(SETTLE)
                looks.append(held_by(victim).count())
                if looks[-1] == looks[-2]:
                    break
            ending = held_by(victim).filter(next_attempt_at__lt=timezone.now() + LEASE_MARGIN)
            return 0 if ending.exists() else looks[-1]
    except OperationalError:
        return 0


#: Visitors of the soak's events, in turn: each has 20 events in flight,
#: retried and reclaimed (tests/workers.py's record() has 50, so that every
#: claim holds every visitor and per-visitor order lets one worker at a time
#: send).
SOAK_VISITORS = 1000


def visitor(i):
    return f"v{i % SOAK_VISITORS:04d}"


def record_visitors(n):
    payloads = [dict(record_payload(i), userId=visitor(i)) for i in range(n)]
    OutboxEvent.objects.bulk_create(
        OutboxEvent(name="PRODUCT_VIEW", user_id=p["userId"], payload=p) for p in payloads
    )


def out_of_order(events, n):
    """Visitors whose events first reached the server in another order than
    recorded (duplicates arrive later than the first copy: only the first
    copy of each event counts)."""
    first = {}
    for position, event in enumerate(events):
        first.setdefault(event["productId"], position)
    arrivals = {}
    for i in range(n):
        arrivals.setdefault(visitor(i), []).append(first[f"P{i}"])
    return sorted(user for user, seen in arrivals.items() if seen != sorted(seen))


def arrivals_of(server, user):
    """How ``user``'s events arrived: (productId, batch number) of every
    copy, in arrival order (for the message of a failed order check)."""
    return [
        (event["productId"], number)
        for number, batch in enumerate(server.batches)
        for event in batch
        if event["userId"] == user
    ]


def test_soak_under_faults_and_a_kill_loses_nothing(server, tmp_path):
    """20,000 events of 1,000 visitors (on every database, SQLite included), 4
    looping workers, 30 % of requests
    failing (500, 503, 429 with Retry-After: 1, a 1 s delay past the 0.5 s
    read timeout, a dropped connection), one worker SIGKILLed mid-batch and
    replaced.

    Every event arrives; duplicates are bounded by the events of batches the
    server accepted after the client timed out plus the killed worker's
    claimed batch, the only two ways an event can reach Dengage twice. "After
    the client timed out" is measured on the server as held for at least
    LATE (0.8 x the 0.5 s timeout: the server's clock starts after it read
    the body, the client's when it sent it); the injected delay is 1 s and
    an ordinary answer takes milliseconds, so the margin decides nothing.
    """
    n = 20_000
    record_visitors(n)
    server.set_failure_rate(
        0.3,
        seed=1234,
        statuses=(500, 503, 429),
        retry_after=1,
        include_timeouts=True,
        timeout_delay=1.0,
        include_drops=True,
    )
    started = time.monotonic()
    args = ("--loop", "--interval", "0.2", "--batch-size", "50")
    workers = [spawn(server, tmp_path, *args, **SOAK_SETTINGS) for _ in range(4)]
    try:
        wait_until(lambda: count(status="sent") >= n // 3, 90, "a third sent")
        victim = workers[0]
        orphaned = 0
        for _ in range(100):
            wait_until(lambda: held_by(victim).exists(), 30, "the victim holding a batch", 0.005)
            # Freeze it, then make sure it still holds rows: killing on a
            # stale look could land just after it finished its batch.
            victim.send_signal(signal.SIGSTOP)
            orphaned = frozen_holding(victim)
            if orphaned:
                break
            victim.send_signal(signal.SIGCONT)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert orphaned > 0, "the victim was never caught holding a batch"
        assert held_by(victim).count() == orphaned
        workers[0] = spawn(server, tmp_path, *args, **SOAK_SETTINGS)

        wait_until(lambda: count(status="sent") == n, 150, "every event sent", 0.25)
        seconds = time.monotonic() - started
        results = stop(workers)
    finally:
        kill_all(workers)

    for returncode, _out, err in results:
        assert returncode == 0, err[-3000:]
    counts = delivered(server)
    assert set(counts) == {f"P{i}" for i in range(n)}, "an event was lost"
    assert count(status__in=("pending", "in_flight", "dead")) == 0
    duplicates = sum(counts.values()) - n
    late_requests, late = server.late_accepted(LATE)
    requests = server.requests
    statuses = Counter("dropped" if r.status is None else r.status for r in requests)
    failures = sum(k for status, k in statuses.items() if status != 200) + late_requests
    print(
        f"\nsoak [{connection.vendor}]: {n} events, {len(requests)} requests, "
        f"{failures} failed ({late_requests} timed out, "
        f"{', '.join(f'{k} {s}' for s, k in sorted(statuses.items(), key=str) if s != 200)}), "
        f"{late} events accepted after the client's timeout, the killed worker held "
        f"{orphaned}, {duplicates} duplicates, {seconds:.1f} s"
    )
    assert failures > 0.2 * len(requests), "the fault injection did not happen"
    assert late_requests > 0 and statuses["dropped"] > 0 and statuses[429] > 0
    assert duplicates <= late + orphaned
    # Through every failure, retry, timeout and the kill: each visitor's
    # events first arrived in the order they were recorded.
    wrong = out_of_order(server.events, n)
    assert wrong == [], (len(wrong), wrong[:5], [arrivals_of(server, user) for user in wrong[:2]])


# -- 2. Configuration failure mid-run ----------------------------------------


def test_configuration_failure_pauses_without_burning_attempts(server, tmp_path):
    """The account breaks mid-run (the origin no longer matches): looping
    workers stay alive and idle, probing every
    DENGAGE_CONFIGURATION_ERROR_PAUSE (0.5 s), and no event's attempts grow;
    once fixed, everything goes out, each event on its first counted try."""
    n = 1_000
    record(n)
    server.set_delay(0.05)
    args = ("--loop", "--interval", "0.2", "--batch-size", "20")
    workers = [
        spawn(server, tmp_path, *args, configuration_error_pause=0.5, lease_seconds=10)
        for _ in range(2)
    ]
    try:
        wait_until(lambda: count(status="sent") >= 200, 60, "some sent")
        server.set_origin("https://other.example.com")

        def refusals():
            return sum(1 for r in server.requests if r.status_code == "NO_DOMAIN_APIKEY_MATCH")

        wait_until(lambda: refusals() >= 2 and count(status="in_flight") == 0, 10, "refused")
        sent_when_broken = count(status="sent")
        assert sent_when_broken < n
        probes_before = refusals()
        window_end = time.monotonic() + 2.5
        while time.monotonic() < window_end:
            assert count(status="sent") == sent_when_broken
            assert count(attempts__gt=0) == sent_when_broken  # only the sent ones
            assert count(status="sent", attempts=1) == sent_when_broken
            assert count(status__in=("dead", "invalid")) == 0
            assert all(w.poll() is None for w in workers), "a worker ended"
            time.sleep(0.1)
        probes = refusals() - probes_before
        # Idle, not hammering: about one probe per worker per pause.
        assert 1 <= probes <= 2 * (2.5 / 0.5 + 2), probes
        last_errors = set(
            OutboxEvent.objects.exclude(status="sent")
            .exclude(last_error="")
            .values_list("last_error", flat=True)
        )
        assert last_errors and all("NO_DOMAIN_APIKEY_MATCH" in e for e in last_errors)

        server.set_origin("https://shop.example.com")
        wait_until(lambda: count(status="sent") == n, 60, "every event sent")
        results = stop(workers)
    finally:
        kill_all(workers)

    for returncode, _out, err in results:
        assert returncode == 0, err[-3000:]
    print(
        f"\nconfiguration [{connection.vendor}]: {sent_when_broken} sent before the break, "
        f"{probes} refused probes in 2.5 s, then {n - sent_when_broken} sent"
    )
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("sent", 1)}
    counts = delivered(server)
    assert set(counts) == {f"P{i}" for i in range(n)}
    assert set(counts.values()) == {1}


# -- 3. A poison event -------------------------------------------------------


def test_poison_event_dies_alone_in_a_real_worker(server, tmp_path):
    """One event of a 100-event batch that Dengage always refuses: the
    worker splits the batch down to it; it alone goes dead with the reason."""
    record(100)
    server.reject_events(lambda event: event.get("productId") == "P37")
    proc = spawn(server, tmp_path, "--batch-size", "100")
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert "sent 99, retrying 0, dead 1" in out
    (dead,) = OutboxEvent.objects.filter(status="dead")
    assert dead.payload["productId"] == "P37"
    assert dead.last_error == "rejected: Dengage answered BAD_INPUT"
    assert count(status="sent") == 99
    counts = delivered(server)
    assert set(counts) == {f"P{i}" for i in range(100)} - {"P37"}
    assert set(counts.values()) == {1}
    print(f"\npoison [{connection.vendor}]: {len(server.requests)} requests to isolate it")


# -- 4. The shop keeps serving -----------------------------------------------


def test_shop_keeps_serving_while_the_sender_drains(server, tmp_path):
    """200 page requests while a looping worker drains a 3,000-event backlog.

    The first 100 pages run while the worker claims and marks batches as
    fast as it can (the data center answers in 10 ms); the other 100 while
    its request hangs 5 s in the data center: they must all be done before
    that request is answered, i.e. no page waits for the sender's HTTP call
    (a transaction held across it would lock SQLite's writers out).

    Every page answers 200 (strict mode turns a failed INSERT, such as
    SQLite's "database is locked", into an error), the sender was really
    draining meanwhile, and every page's events are delivered.
    """
    backlog = 3_000
    record(backlog)
    server.set_delay(0.01)
    proc = spawn(server, tmp_path, "--loop", "--interval", "0.2", "--batch-size", "50")
    client = Client(headers={"user-agent": CHROME_UA})
    statuses, errors, slowest = [], [], 0.0

    def pages(numbers):
        nonlocal slowest
        for i in numbers:
            path = f"/?n={i}" if i % 2 else f"/p/{1 + i % 4 // 2}/?n={i}"
            begun = time.monotonic()
            try:
                statuses.append(client.get(path).status_code)
            except OperationalError as exc:
                errors.append(str(exc))
            slowest = max(slowest, time.monotonic() - begun)

    try:
        wait_until(lambda: count(status="sent") > 0, 30, "the sender started")
        sent_before = count(status="sent")
        started = time.monotonic()
        pages(range(100))
        sent_during = count(status="sent") - sent_before

        server.set_delay(5.0)
        server.wait_for_arrivals(server.arrivals + 1)  # a request now hangs 5 s
        answered = server.answered()
        hung = time.monotonic()
        pages(range(100, 200))
        pages_while_hung = time.monotonic() - hung
        still_hanging = server.answered() == answered
        server.set_delay(0)

        pages_seconds = time.monotonic() - started
        alive = proc.poll() is None
        recorded = count() - backlog
        wait_until(lambda: count(status="sent") == count(), 60, "everything sent")
        ((returncode, _out, err),) = stop([proc])
    finally:
        kill_all([proc])
    print(
        f"\nshop [{connection.vendor}]: 200 pages in {pages_seconds:.1f} s "
        f"(slowest {slowest * 1000:.0f} ms; 100 in {pages_while_hung:.2f} s while the "
        f"sender's request hung), {recorded} events recorded, "
        f"the sender sent {sent_during} during the first 100"
    )
    assert errors == [], errors[:3]
    assert statuses == [200] * 200
    assert alive and returncode == 0, err[-3000:]
    assert sent_during > 0, "the sender was not draining during the requests"
    assert still_hanging, "the pages waited for the sender's HTTP request"
    assert count(name="PAGE_VIEW") == 200
    rows = Counter(OutboxEvent.objects.values_list("name", flat=True))
    received = Counter(event["name"] for event in server.events)
    assert received == rows
    page_urls = {event["pageUrl"] for event in server.events if event["name"] == "PAGE_VIEW"}
    assert len(page_urls) == 200


# -- 5. Clock and lease ------------------------------------------------------


def test_worker_paused_past_its_lease(server, tmp_path):
    """Worker A claims 60 events, which go out in two requests of 30 (the
    bodies exceed DENGAGE_BATCH_MAX_BYTES together). A is SIGSTOPped while
    its first request is on the wire (the server holds it 1 s, then accepts
    it) and stays stopped past its 3 s lease; worker B takes the expired
    batch over and sends all 60. After SIGCONT, A reads the answer it
    missed, and before its second request finds it no longer holds those
    events (delivery._Lease.keep renews first), so it drops them.

    Bound: a worker paused while its request is already on the wire cannot
    un-send it, so at most one request's events (here the first 30) arrive
    twice; events it had claimed but not sent yet arrive exactly once.
    """
    size = 1089  # encoded bytes: 30 fit in 32768 (2 + 30 * 1090), 31 do not
    base = len(encode_event({**record_payload(10), "params": {"pad": ""}}))
    payloads = record(60, start=10, pad="x" * (size - base))
    assert {len(encode_event(p)) for p in payloads} == {size}
    server.set_delay(1.0)
    settings = dict(lease_seconds=3, timeout=5, connect_timeout=1, batch_max_bytes=32768)
    a = spawn(server, tmp_path, "--batch-size", "60", **settings)
    b = None
    try:
        server.wait_for_arrivals(1)
        a.send_signal(signal.SIGSTOP)
        server.set_delay(0)
        server.wait_for_events(30, timeout=10)  # A's first request, accepted
        wait_until(
            lambda: count(status="in_flight", next_attempt_at__lt=timezone.now()) == 60,
            10,
            "A's lease expired",
        )
        b = spawn(server, tmp_path, "--batch-size", "60", **settings)
        b_out, b_err = finish(b)
        assert b.returncode == 0, b_err
        a.send_signal(signal.SIGCONT)
        a_out, a_err = finish(a)
    finally:
        if a.poll() is None:
            a.send_signal(signal.SIGCONT)
        kill_all([p for p in (a, b) if p is not None])
    assert a.returncode == 0, a_err
    assert "lease lost on 30 events" in a_err
    assert a_out.startswith("sent 0,"), a_out  # its late success changed no row
    assert b_out.startswith("sent 60,"), b_out
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("sent", 1)}
    counts = delivered(server)
    ids = [f"P{i}" for i in range(10, 70)]
    assert set(counts) == set(ids), "an event was lost"
    on_the_wire, not_sent_yet = ids[:30], ids[30:]
    assert all(counts[i] == 1 for i in not_sent_yet), "A sent events it no longer held"
    duplicates = sum(counts.values()) - 60
    print(f"\nlease [{connection.vendor}]: {duplicates} duplicates (bound: 30, one request)")
    assert duplicates <= len(on_the_wire)
    assert len(server.requests) == 3  # A's first; B's two; never A's second
