"""Sender.loop: how long it waits after each kind of run, its limit, and
database errors (paused and retried outside a transaction, raised inside
the caller's). Bisection of a bad batch when a half fails otherwise.

A scripted client stands in for the data center and a stop event records
the waits instead of sleeping, so every pause is checked exactly and fast.
"""

import logging
import threading
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

import dengage_django
from dengage_django.delivery import sender as delivery
from dengage_django.delivery.answers import Answer, Outcome
from dengage_django.delivery.sender import DATABASE_ERROR_MAX_PAUSE, Sender
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

SUCCESS = Answer(Outcome.SUCCESS, "", 200)
BAD_EVENT = Answer(Outcome.BAD_EVENT, "Dengage answered BAD_INPUT", 200, "BAD_INPUT")


class ScriptedClient:
    """Answers each request with the next scripted answer, then successes."""

    timeout = (0.5, 0.5)

    def __init__(self, *answers):
        self.answers = list(answers)
        self.bodies = []

    def send(self, body, *args, **kwargs):
        self.bodies.append(body)
        return self.answers.pop(0) if self.answers else SUCCESS

    def close(self):
        pass


class RecordingStop(threading.Event):
    """A stop event whose waits return at once; set after ``waits`` waits."""

    def __init__(self, waits):
        super().__init__()
        self.waits = waits
        self.pauses = []

    def wait(self, timeout=None):
        self.pauses.append(timeout)
        if len(self.pauses) >= self.waits:
            self.set()
        return self.is_set()


def record(n):
    for i in range(n):
        dengage_django.track("PRODUCT_VIEW", userId=f"u{i}", sessionId="s", productId=f"P{i}")


def test_loop_waits_the_interval_after_catching_up_whether_it_sent_or_not():
    record(3)
    stop = RecordingStop(waits=2)
    total = Sender(ScriptedClient(), stop_event=stop).loop(interval=7.0)
    assert total.sent == 3
    # Going on at once would claim the trickle of new events one or two at a
    # time, a claim and a request each (measured: 2 senders busy half a CPU
    # at 90 events/s under bench/server.py).
    assert stop.pauses == [7.0, 7.0]


class TricklingClient(ScriptedClient):
    """A data center answering while the shop records one more event."""

    def send(self, body, *args, **kwargs):
        record_one = len(self.bodies)
        dengage_django.track("PAGE_VIEW", userId=f"new{record_one}", sessionId="s")
        return super().send(body, *args, **kwargs)


def test_a_short_claim_ends_the_loops_run_events_arriving_meanwhile_wait_for_the_next():
    record(3)
    client = TricklingClient()
    stop = RecordingStop(waits=1)
    total = Sender(client, batch_size=2, stop_event=stop).loop(interval=7.0)
    # One claim (3 < 20 wanted), its 2 requests; what arrived meanwhile waits.
    assert total.sent == 3 and len(client.bodies) == 2 and stop.pauses == [7.0]
    assert OutboxEvent.objects.filter(status="pending").count() == 2


def test_a_plain_drain_goes_on_until_nothing_is_due():
    record(3)
    client = TricklingClient()
    client.answers = []
    report = Sender(client, batch_size=2).drain(limit=7)
    assert report.sent == 7  # the 3, then what arrived while sending


def test_full_claims_go_on_until_the_backlog_is_drained():
    record(45)
    client = ScriptedClient()
    report = Sender(client, batch_size=2).drain()
    assert report.sent == 45 and len(client.bodies) == 23  # claims of 20, 20, 5
    assert not OutboxEvent.objects.exclude(status="sent").exists()


def test_loop_waits_out_retry_after_longer_than_the_interval():
    record(2)
    stop = RecordingStop(waits=1)
    busy = Answer(Outcome.TRANSIENT, "HTTP 429", 429, retry_after=90.0)
    total = Sender(ScriptedClient(busy), stop_event=stop).loop(interval=5.0)
    assert (total.retrying, total.pause) == (2, 90.0)
    assert stop.pauses == [90.0]


def test_loop_after_a_transient_failure_waits_the_interval_not_zero():
    record(2)
    stop = RecordingStop(waits=1)
    failed = Answer(Outcome.TRANSIENT, "HTTP 503", 503)
    total = Sender(ScriptedClient(failed), stop_event=stop).loop(interval=5.0)
    assert total.retrying == 2
    assert stop.pauses == [5.0]


def test_loop_with_a_limit_ends_by_itself_without_on_report():
    record(5)
    stop = RecordingStop(waits=50)  # a safety net: the limit must end the loop
    total = Sender(ScriptedClient(), batch_size=2, stop_event=stop).loop(interval=0.01, limit=4)
    assert total.sent == 4
    assert not stop.is_set()
    assert OutboxEvent.objects.filter(status="pending").count() == 1


def test_loop_raises_a_database_error_inside_the_callers_transaction(monkeypatch, caplog):
    """In a transaction (a test case's, a caller's atomic block) the error is
    not the loop's to wait out: the transaction is broken."""

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(delivery.outbox, "claim", locked)
    stop = RecordingStop(waits=3)
    with caplog.at_level(logging.ERROR), pytest.raises(OperationalError, match="locked"):
        Sender(ScriptedClient(), stop_event=stop).loop(interval=0.5)
    assert stop.pauses == []
    assert "database error" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_loop_backs_off_doubling_on_database_errors_then_recovers(monkeypatch, caplog):
    record(2)
    real_claim = delivery.outbox.claim
    failures = [OperationalError("database is locked")] * 9

    def flaky(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(delivery.outbox, "claim", flaky)
    stop = RecordingStop(waits=11)
    with caplog.at_level(logging.ERROR, logger="dengage_django.delivery.sender"):
        total = Sender(ScriptedClient(), stop_event=stop).loop(interval=0.5)
    assert total.sent == 2
    doubling = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    capped = [DATABASE_ERROR_MAX_PAUSE] * 2
    # Nine errors, then a run that sent and caught up, then idle.
    assert stop.pauses == doubling + capped + [0.5, 0.5]
    errors = [r for r in caplog.records if "database error" in r.getMessage()]
    assert len(errors) == 9
    # Only the first error of a streak carries its traceback.
    assert [bool(r.exc_info) for r in errors] == [True] + [False] * 8


def test_bisection_stops_when_a_half_fails_transiently_and_gives_the_rest_back():
    record(4)
    busy = Answer(Outcome.TRANSIENT, "HTTP 503", 503, retry_after=30.0)
    client = ScriptedClient(BAD_EVENT, busy)
    report = Sender(client).drain()
    assert report.requests == 2 and (report.retrying, report.dead, report.sent) == (2, 0, 0)
    rows = {row.payload["productId"]: row for row in OutboxEvent.objects.all()}
    # The first half was tried and failed: one attempt, the error kept.
    assert {(rows[p].status, rows[p].attempts, rows[p].last_error) for p in ("P0", "P1")} == {
        ("pending", 1, "HTTP 503")
    }
    # The second half was never tried: no attempt, but it waits Retry-After too.
    later = timezone.now() + timedelta(seconds=25)
    for product_id in ("P2", "P3"):
        assert (rows[product_id].status, rows[product_id].attempts) == ("pending", 0)
        assert rows[product_id].next_attempt_at > later


def test_bisection_stops_on_a_configuration_answer_and_burns_no_attempt():
    record(4)
    refused = Answer(Outcome.CONFIGURATION, "Dengage answered NO_ACCOUNT", 200, "NO_ACCOUNT")
    report = Sender(ScriptedClient(BAD_EVENT, refused)).drain()
    assert report.requests == 2
    assert "NO_ACCOUNT" in report.configuration_error
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("pending", 0)}
    assert len(OutboxEvent.objects.filter(next_attempt_at__lte=timezone.now())) == 4
