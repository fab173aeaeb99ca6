"""outbox: a claim retried after a lock error between workers, a claim
filled by expired leases alone, an INSERT on a database without RETURNING
(MySQL 8), and an operator's kill of nothing (no signal)."""

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dengage_django import outbox, signals
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db


def make(n):
    for i in range(n):
        outbox.record_one("PAGE_VIEW", {"name": "PAGE_VIEW", "userId": f"u{i}", "sessionId": "s"})


def flaky_claim_ids(monkeypatch, failures):
    """``_claim_ids`` failing ``failures`` times (a deadlock, a lock
    timeout), then working; returns the list of calls."""
    real = outbox._claim_ids
    calls = []

    def claim_ids(*args):
        calls.append(args)
        if len(calls) <= failures:
            raise OperationalError("deadlock detected")
        return real(*args)

    monkeypatch.setattr(outbox, "_claim_ids", claim_ids)
    return calls


def test_claim_tries_again_after_a_lock_error(monkeypatch):
    make(3)
    calls = flaky_claim_ids(monkeypatch, failures=outbox.CLAIM_RETRIES - 1)
    token, claimed = outbox.claim(10, lease_seconds=30)
    assert len(calls) == outbox.CLAIM_RETRIES
    assert [c.payload["userId"] for c in claimed] == ["u0", "u1", "u2"]
    assert set(OutboxEvent.objects.values_list("status", "lease_owner")) == {("in_flight", token)}


def test_claim_gives_up_after_its_retries_and_raises(monkeypatch):
    make(1)
    calls = flaky_claim_ids(monkeypatch, failures=outbox.CLAIM_RETRIES)
    with pytest.raises(OperationalError, match="deadlock"):
        outbox.claim(10, lease_seconds=30)
    assert len(calls) == outbox.CLAIM_RETRIES
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"pending"}


@pytest.mark.django_db(transaction=True)
def test_insert_without_returning_stores_the_rows_in_one_statement(monkeypatch):
    """MySQL 8 (and SQLite before 3.35) cannot return the new ids: the rows
    are stored all the same, in one INSERT with no RETURNING clause."""
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    events = [
        outbox.new_event("PAGE_VIEW", {"name": "PAGE_VIEW", "userId": f"u{i}", "sessionId": "s"})
        for i in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        assert outbox.insert(events) is events
    [query] = queries.captured_queries
    assert query["sql"].startswith("INSERT") and "RETURNING" not in query["sql"].upper()
    assert sorted(OutboxEvent.objects.values_list("user_id", flat=True)) == ["u0", "u1", "u2"]
    assert all(not event._state.adding and event._state.db == "default" for event in events)


def test_killing_nothing_pending_sends_no_signal():
    make(1)
    outbox.events().update(status=OutboxEvent.Status.SENT)
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.event_dead.connect(receiver)
    try:
        assert outbox.kill(outbox.events(), "operator gave up") == 0
    finally:
        signals.event_dead.disconnect(receiver)
    assert received == []
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"sent"}


def test_expired_leases_alone_can_fill_a_claim_and_pending_rows_wait():
    make(4)
    token, first = outbox.claim(2, lease_seconds=30)
    # The first worker died: its leases ran out a second ago.
    outbox.events().filter(lease_owner=token).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    rescuer, rescued = outbox.claim(2, lease_seconds=30)
    assert [c.id for c in rescued] == [c.id for c in first]
    assert OutboxEvent.objects.filter(status="pending").count() == 2
    in_flight = OutboxEvent.objects.filter(status="in_flight")
    assert set(in_flight.values_list("lease_owner", flat=True)) == {rescuer}
