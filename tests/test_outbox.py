"""Claiming and state transitions of the outbox."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dengage_django import outbox
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status


def make(n):
    for i in range(n):
        outbox.record_one("PAGE_VIEW", {"name": "PAGE_VIEW", "userId": f"u{i}", "sessionId": "s"})


def test_enqueue_fills_user_id_column():
    event = outbox.record_one("PAGE_VIEW", {"name": "PAGE_VIEW", "userId": "123", "sessionId": "s"})
    assert event.user_id == "123"
    assert event.status == Status.PENDING
    assert event.attempts == 0


def test_claim_takes_due_events_in_order_under_a_lease():
    make(5)
    before = timezone.now()
    token, claimed = outbox.claim(3, lease_seconds=30)
    assert [c.payload["userId"] for c in claimed] == ["u0", "u1", "u2"]
    rows = OutboxEvent.objects.filter(id__in=[c.id for c in claimed])
    assert {r.status for r in rows} == {Status.IN_FLIGHT}
    assert {r.lease_owner for r in rows} == {token}
    for row in rows:
        assert before + timedelta(seconds=29) <= row.next_attempt_at
    # The rest is still there for another worker; nothing is taken twice.
    token2, claimed2 = outbox.claim(10, lease_seconds=30)
    assert token2 != token
    assert [c.payload["userId"] for c in claimed2] == ["u3", "u4"]
    assert outbox.claim(10, lease_seconds=30)[1] == []


def test_events_not_yet_due_are_not_claimed():
    make(2)
    OutboxEvent.objects.filter(user_id="u0").update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    _, claimed = outbox.claim(10, lease_seconds=30)
    assert [c.payload["userId"] for c in claimed] == ["u1"]


def test_expired_lease_is_claimed_again_first():
    make(3)
    token, first = outbox.claim(1, lease_seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    token2, again = outbox.claim(2, lease_seconds=30, now=later)
    assert [c.id for c in again] == [first[0].id, first[0].id + 1]
    # The first worker no longer holds it: its late answer changes nothing.
    assert outbox.mark_sent([first[0].id], token) == 0
    assert outbox.mark_sent([first[0].id], token2) == 1


def test_sent_dead_invalid_are_never_claimed():
    make(3)
    OutboxEvent.objects.filter(user_id="u0").update(status=Status.SENT)
    OutboxEvent.objects.filter(user_id="u1").update(status=Status.DEAD)
    OutboxEvent.objects.filter(user_id="u2").update(status=Status.INVALID)
    assert outbox.claim(10, lease_seconds=30)[1] == []


def test_transitions_count_attempts_and_clear_the_lease():
    make(4)
    token, claimed = outbox.claim(4, lease_seconds=30)
    a, b, c, d = (event.id for event in claimed)
    assert outbox.mark_sent([a], token) == 1
    assert outbox.mark_dead([b], token, "rejected: BAD_INPUT") == 1
    assert outbox.mark_retry([c], token, "HTTP 503", delay_seconds=60) == 1
    assert outbox.release([d], token) == 1
    rows = {row.id: row for row in OutboxEvent.objects.all()}
    assert (rows[a].status, rows[a].attempts, rows[a].lease_owner) == (Status.SENT, 1, "")
    assert rows[a].sent_at is not None
    assert (rows[b].status, rows[b].last_error) == (Status.DEAD, "rejected: BAD_INPUT")
    assert (rows[c].status, rows[c].attempts) == (Status.PENDING, 1)
    assert rows[c].next_attempt_at > timezone.now() + timedelta(seconds=55)
    assert (rows[d].status, rows[d].attempts) == (Status.PENDING, 0)


def test_renew_extends_only_held_events():
    make(2)
    token, claimed = outbox.claim(2, lease_seconds=5)
    ids = [c.id for c in claimed]
    OutboxEvent.objects.filter(id=ids[1]).update(lease_owner="someone-else")
    assert outbox.renew(ids, token, lease_seconds=60) == {ids[0]}
    row = OutboxEvent.objects.get(id=ids[0])
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=55)


def test_requeue_dead_and_purge_sent():
    make(3)
    OutboxEvent.objects.filter(user_id="u0").update(status=Status.DEAD, attempts=20)
    old = timezone.now() - timedelta(days=10)
    OutboxEvent.objects.filter(user_id="u1").update(status=Status.SENT, created_at=old)
    OutboxEvent.objects.filter(user_id="u2").update(status=Status.SENT)
    assert outbox.requeue_dead() == 1
    assert OutboxEvent.objects.get(user_id="u0").attempts == 0
    assert outbox.purge_sent(7) == 1
    assert list(OutboxEvent.objects.values_list("user_id", flat=True).order_by("id")) == [
        "u0",
        "u2",
    ]


def test_counts_and_due_count():
    make(3)
    OutboxEvent.objects.filter(user_id="u0").update(status=Status.INVALID)
    assert outbox.counts() == {
        "pending": 2,
        "in_flight": 0,
        "sent": 0,
        "dead": 0,
        "invalid": 1,
    }
    assert outbox.due_count() == 2


def test_purge_works_in_chunks(monkeypatch):
    monkeypatch.setattr(outbox, "DELETE_CHUNK", 2)
    make(5)
    OutboxEvent.objects.update(status=Status.SENT, created_at=timezone.now() - timedelta(days=3))
    assert outbox.purge_sent(1) == 5
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_insert_outside_a_transaction_is_one_plain_statement():
    from decimal import Decimal

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dengage_django.events.validation import build_event

    payloads = [
        build_event(
            "PRODUCT_VIEW",
            {"userId": f"u{i}", "sessionId": "s", "productId": "Ç-1", "price": Decimal("349.99")},
        )
        for i in range(3)
    ]
    events = [outbox.new_event("PRODUCT_VIEW", p) for p in payloads]
    with CaptureQueriesContext(connection) as queries:
        outbox.insert(events)
    assert [q["sql"].split()[0] for q in queries] == ["INSERT"]
    rows = list(OutboxEvent.objects.order_by("id"))
    if connection.features.can_return_rows_from_bulk_insert:
        assert [event.pk for event in events] == [row.pk for row in rows]
    assert [row.payload for row in rows] == payloads
    assert rows[0].payload["price"] == 349.99 and rows[0].payload["productId"] == "Ç-1"
    assert {(row.status, row.attempts, row.user_id) for row in rows} == {
        ("pending", 0, "u0"),
        ("pending", 0, "u1"),
        ("pending", 0, "u2"),
    }
    assert all(row.next_attempt_at and row.created_at for row in rows)
    # And they are claimable like any other.
    assert len(outbox.claim(10, lease_seconds=30)[1]) == 3


def test_claim_reads_back_through_the_claim_index_not_a_table_scan():
    """Reading the claimed rows back must not scan the table: at a million
    rows a scan made each claim cost 216 ms (bench/scale.py). SQLite's
    planner, given statistics where half the rows share a status, scanned
    the table in id order rather than search ``status = 'in_flight'``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("the plan checked is SQLite's (other planners cost differently)")
    now = timezone.now()
    rows = [outbox.new_event("PAGE_VIEW", {"userId": f"u{i}"}) for i in range(400)]
    for row in rows[:200]:
        row.status, row.sent_at = Status.SENT, now
    OutboxEvent.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        token, claimed = outbox.claim(50, lease_seconds=30)
    assert len(claimed) == 50
    table = OutboxEvent._meta.db_table
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert selects
    for sql in selects:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = [row[-1] for row in cursor.fetchall()]
        assert f"SCAN {table}" not in plan, (sql, plan)


@pytest.mark.parametrize("mark", ["sent", "dead", "retry"])
def test_marking_with_a_generator_of_ids_signals_those_ids(mark):
    from dengage_django import signals

    make(3)
    token, claimed = outbox.claim(3, lease_seconds=30)
    seen = []

    def receiver(sender, event_ids, **kwargs):
        seen.append(list(event_ids))

    wanted = [c.id for c in claimed]
    ids = (c.id for c in claimed)  # a generator: read once
    name = {"sent": "batch_sent", "dead": "event_dead", "retry": "event_failed"}[mark]
    getattr(signals, name).connect(receiver)
    try:
        if mark == "sent":
            count = outbox.mark_sent(ids, token)
        elif mark == "dead":
            count = outbox.mark_dead(ids, token, "bad")
        else:
            count = outbox.mark_retry(ids, token, "HTTP 503", delay_seconds=5)
    finally:
        getattr(signals, name).disconnect(receiver)
    assert count == 3
    assert seen == [wanted]
