"""The outbox's part in live sends (request.dengage.decide()): a visitor's
open events taken for a live POST, the request's new events stored under
the same lease, and nothing overtaking or sent twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

import dengage_django
from dengage_django import outbox
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)

Status = OutboxEvent.Status


def record(user, n=1, **fields):
    return [
        dengage_django.track("PAGE_VIEW", userId=user, sessionId="s", **fields) for _ in range(n)
    ]


def new_rows(user, n=1):
    return [
        outbox.new_event("PAGE_VIEW", {"name": "PAGE_VIEW", "userId": user, "sessionId": "s"})
        for _ in range(n)
    ]


def test_a_visitors_due_events_are_taken_in_order_and_no_one_elses():
    first = record("u1", 2)
    other = record("u2")
    token = outbox.new_lease_token()
    taken = outbox.claim_visitor("u1", token, lease_seconds=30)
    assert [c.id for c in taken] == [e.id for e in first]
    assert set(OutboxEvent.objects.filter(user_id="u1").values_list("status", flat=True)) == {
        Status.IN_FLIGHT
    }
    assert OutboxEvent.objects.get(id=other[0].id).status == Status.PENDING
    # A sender claims around them.
    _, claimed = outbox.claim(100, lease_seconds=30)
    assert [c.id for c in claimed] == [other[0].id]


def test_nothing_is_taken_when_sending_now_would_overtake_an_open_event():
    [backing_off] = record("u1")
    record("u1")
    OutboxEvent.objects.filter(id=backing_off.id).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert outbox.claim_visitor("u1", outbox.new_lease_token(), lease_seconds=30) is None
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_nothing_is_taken_while_a_sender_holds_one_of_the_visitors_events():
    record("u1")
    outbox.claim(1, lease_seconds=30)  # a sender's request in flight
    record("u1")
    assert outbox.claim_visitor("u1", outbox.new_lease_token(), lease_seconds=30) is None
    assert OutboxEvent.objects.filter(status=Status.PENDING).count() == 1


def test_a_visitor_with_nothing_open_gets_an_empty_list():
    assert outbox.claim_visitor("u1", outbox.new_lease_token(), lease_seconds=30) == []
    assert outbox.claim_visitor("", outbox.new_lease_token(), lease_seconds=30) is None


def test_rows_recorded_under_a_lease_are_in_flight_and_hold_the_visitors_later_events():
    token = outbox.new_lease_token()
    rows = outbox.record_leased(new_rows("u1", 2), token, lease_seconds=30)
    assert all(r.pk for r in rows)
    assert (
        list(OutboxEvent.objects.values_list("status", "lease_owner"))
        == [(Status.IN_FLIGHT, token)] * 2
    )
    record("u1")  # the visitor's next page, before the live answer came
    assert outbox.claim(100, lease_seconds=30)[1] == []
    # Late: given back untried, then the sender takes the three in order
    # (the later one waits while the two given back are open).
    assert outbox.release([r.id for r in rows], token) == 2
    _, claimed = outbox.claim(100, lease_seconds=30)
    assert [c.id for c in claimed] == [r.id for r in rows]
    assert all(c.attempts == 0 for c in claimed)
    outbox.mark_sent([c.id for c in claimed], claimed_token(claimed))
    _, claimed = outbox.claim(100, lease_seconds=30)
    assert [c.name for c in claimed] == ["PAGE_VIEW"] and claimed[0].id > rows[-1].id


def claimed_token(claimed):
    return OutboxEvent.objects.get(id=claimed[0].id).lease_owner


def test_rows_sent_live_are_marked_sent_once():
    token = outbox.new_lease_token()
    rows = outbox.record_leased(new_rows("u1"), token, lease_seconds=30)
    assert outbox.mark_sent([rows[0].id], token) == 1
    assert outbox.mark_sent([rows[0].id], token) == 0
    row = OutboxEvent.objects.get()
    assert (row.status, row.attempts) == (Status.SENT, 1)


def test_an_abandoned_live_lease_runs_out_and_the_sender_sends_them():
    token = outbox.new_lease_token()
    outbox.record_leased(new_rows("u1"), token, lease_seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    _, claimed = outbox.claim(100, lease_seconds=30, now=later)
    assert len(claimed) == 1


def test_a_live_send_in_a_rolled_back_transaction_leaves_nothing():
    from django.db import transaction

    token = outbox.new_lease_token()
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.record_leased(new_rows("u1"), token, lease_seconds=30)
        raise RuntimeError
    assert not OutboxEvent.objects.exists()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        outbox.record_leased(new_rows("u1"), "", lease_seconds=30)
    with pytest.raises(ValueError):
        outbox.record_leased(new_rows("u1"), "t", lease_seconds=0)
    invalid = outbox.new_event("PAGE_VIEW", {}, status=Status.INVALID, error="bad")
    with pytest.raises(ValueError):
        outbox.record_leased([invalid], "t", lease_seconds=30)


def test_rows_that_could_not_be_stored_leased_are_pending_again(monkeypatch):
    rows = new_rows("u1")
    due = rows[0].next_attempt_at

    def broken(rows, **kwargs):
        raise outbox.OperationalError("the database went away")

    monkeypatch.setattr(outbox, "record", broken)
    with pytest.raises(outbox.OperationalError):
        outbox.record_leased(rows, "t", lease_seconds=30)
    assert (rows[0].status, rows[0].lease_owner, rows[0].next_attempt_at) == (
        Status.PENDING,
        "",
        due,
    )


def test_lease_for_live_takes_and_stores_in_one_transaction():
    earlier = outbox.record(new_rows("u1"))
    token = outbox.new_lease_token()
    rows = new_rows("u1", 2)
    taken, refused = outbox.lease_for_live("u1", rows, token, lease_seconds=30, limit=3)
    assert refused == "" and [event.id for event in taken] == [earlier[0].pk]
    held = OutboxEvent.objects.held_by(token).order_by("id")
    assert list(held.values_list("id", flat=True)) == [earlier[0].pk] + [row.pk for row in rows]


def test_lease_for_live_over_the_limit_takes_and_stores_nothing():
    outbox.record(new_rows("u1", 2))
    rows = new_rows("u1", 2)
    token = outbox.new_lease_token()
    taken, refused = outbox.lease_for_live("u1", rows, token, lease_seconds=30, limit=3)
    assert (taken, refused) == ([], "too many events waiting")
    assert all(row.pk is None for row in rows)
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_lease_for_live_out_of_order_takes_and_stores_nothing():
    outbox.record(new_rows("u1"))
    outbox.claim(10, lease_seconds=30)  # a sender holds the visitor's event
    rows = new_rows("u1")
    taken, refused = outbox.lease_for_live("u1", rows, "t", lease_seconds=30, limit=10)
    assert taken == [] and "order" in refused and rows[0].pk is None
    assert OutboxEvent.objects.count() == 1


def test_a_failed_commit_leaves_the_rows_unsaved_and_the_claim_undone(monkeypatch):
    # The COMMIT can fail after the INSERT gave the rows their keys: they
    # must be unsaved again, or the request would drop them.
    from django.db import connection

    earlier = outbox.record(new_rows("u1"))
    rows = new_rows("u1")
    due = rows[0].next_attempt_at

    def failing_commit():
        assert rows[0].pk is not None  # inserted
        raise outbox.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(connection, "_commit", failing_commit)
    with pytest.raises(outbox.OperationalError):
        outbox.lease_for_live("u1", rows, "t", lease_seconds=30, limit=10)
    monkeypatch.undo()
    row = rows[0]
    assert (row.pk, row._state.adding, row._state.db) == (None, True, None)
    assert (row.status, row.lease_owner, row.next_attempt_at) == (Status.PENDING, "", due)
    assert list(OutboxEvent.objects.values_list("id", "status")) == [
        (earlier[0].pk, Status.PENDING)
    ]


def test_event_recorded_is_sent_after_the_commit_and_a_failing_receiver_changes_nothing():
    from django.db import connection

    from dengage_django.signals import event_recorded

    seen = []

    def receiver(sender, event, **kwargs):
        seen.append((event.status, connection.in_atomic_block))
        raise RuntimeError("a receiver's bug")

    event_recorded.connect(receiver)
    try:
        rows = new_rows("u1")
        taken, refused = outbox.lease_for_live("u1", rows, "t", lease_seconds=30, limit=10)
    finally:
        event_recorded.disconnect(receiver)
    assert (taken, refused) == ([], "")
    assert seen == [(Status.IN_FLIGHT, False)]
    assert list(OutboxEvent.objects.held_by("t").values_list("id", flat=True)) == [rows[0].pk]


def test_without_returning_the_keys_are_read_back(monkeypatch):
    # MySQL's INSERT returns no keys: the rows must know them all the same,
    # or the live call could neither mark them sent nor tell them stored.
    from django.db import connection

    earlier = outbox.record(new_rows("u1"))
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    rows = new_rows("u1", 3)
    taken, _ = outbox.lease_for_live("u1", rows, "t", lease_seconds=30, limit=10)
    monkeypatch.undo()
    assert [event.id for event in taken] == [earlier[0].pk]
    stored = OutboxEvent.objects.held_by("t").exclude(id=earlier[0].pk).order_by("id")
    assert [row.pk for row in rows] == list(stored.values_list("id", flat=True))
    assert all(isinstance(row.pk, int) for row in rows)
