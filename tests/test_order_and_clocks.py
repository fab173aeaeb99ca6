"""One visitor's events reach Dengage in recorded order, and leases follow
the database's clock.

* Order: the API has no event timestamp, so the order on the wire is the
  only order. A later event of a userId is never claimed while an earlier
  one of the same userId is open (pending, backing off or in flight) and not
  taken by the same claim; within a claim events go out in id order.
* Clocks: lease expiry and retry times are computed and compared on the
  database, so a worker whose clock is ahead cannot take another's live
  rows, and one whose clock is behind cannot hand out leases that are
  already over.

The claim runs two ways: with ``SELECT ... FOR UPDATE SKIP LOCKED``
(PostgreSQL, MariaDB 10.6+, MySQL 8) and without it (SQLite, MariaDB 10.5,
MySQL 5.7); the ``claim_path`` fixture runs a test both ways where the
database has it (the second way by switching the feature flag off).
"""

import random
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from dengage_django import outbox
from dengage_django.delivery.sender import DrainReport, Sender
from dengage_django.models import OutboxEvent

from .test_events import CHECKOUT, CHECKOUT_PURCHASE

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status
OPEN = (Status.PENDING, Status.IN_FLIGHT)
STEPS = ("basket", "customer", "payment", "purchase")


@pytest.fixture(params=["native", "without SKIP LOCKED"])
def claim_path(request, monkeypatch):
    """Claim with SKIP LOCKED (where the database has it), and without."""
    if request.param == "without SKIP LOCKED":
        # The class too: threads' connections have features objects of their own.
        features = connection.features
        monkeypatch.setattr(type(features), "has_select_for_update_skip_locked", False)
        monkeypatch.setattr(features, "has_select_for_update_skip_locked", False)
    elif not connection.features.has_select_for_update_skip_locked:
        pytest.skip("no SKIP LOCKED here: the other case is this database's claim")
    return request.param


def row(user, *, at=-10, status=Status.PENDING, owner=""):
    """An outbox row of ``user``, due ``at`` seconds from now."""
    return OutboxEvent.objects.create(
        name="PAGE_VIEW",
        payload={"name": "PAGE_VIEW", "userId": user, "sessionId": "s"},
        user_id=user,
        status=status,
        lease_owner=owner,
        next_attempt_at=timezone.now() + timedelta(seconds=at),
    )


def ids(claimed):
    return [event.id for event in claimed]


@contextmanager
def clock_shifted(monkeypatch, seconds):
    """This process's clock (``timezone.now``) ``seconds`` off; the
    database's clock is left alone."""
    real = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real() + timedelta(seconds=seconds))
    try:
        yield
    finally:
        monkeypatch.setattr(timezone, "now", real)


# -- Order: the claim ----------------------------------------------------------


def test_a_later_event_waits_while_an_earlier_one_backs_off(claim_path):
    backing_off = row("U", at=60)
    later = row("U")
    other = row("V")
    _, claimed = outbox.claim(10, lease_seconds=30)
    assert ids(claimed) == [other.id]
    # Once the earlier one is due (before the later one), both go in one
    # claim, in recorded order.
    OutboxEvent.objects.filter(id=backing_off.id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=20)
    )
    _, claimed = outbox.claim(10, lease_seconds=30)
    assert ids(claimed) == [backing_off.id, later.id]


def test_a_later_event_waits_while_an_earlier_one_is_in_flight(claim_path):
    first = row("U")
    token, claimed = outbox.claim(1, lease_seconds=30)
    assert ids(claimed) == [first.id]
    later, other = row("U"), row("V")
    # Another worker, while the first holds its lease: not the later event.
    assert ids(outbox.claim(10, lease_seconds=30)[1]) == [other.id]
    outbox.mark_sent([first.id], token)
    assert ids(outbox.claim(10, lease_seconds=30)[1]) == [later.id]


def test_a_claim_limit_never_takes_a_later_event_without_the_earlier_ones(claim_path):
    # Retried (due last) then released untried (due first): the claim reads
    # due rows oldest due time first, which here is the later event.
    retried = row("U", at=-2)
    released = row("U", at=-10)
    other = row("V", at=-5)
    assert ids(outbox.claim(1, lease_seconds=30)[1]) == [other.id]
    token, claimed = outbox.claim(1, lease_seconds=30)
    assert ids(claimed) == [retried.id]
    assert outbox.claim(1, lease_seconds=30)[1] == []
    outbox.mark_sent([retried.id], token)
    assert ids(outbox.claim(1, lease_seconds=30)[1]) == [released.id]


def test_an_expired_lease_never_goes_ahead_of_an_earlier_pending_event(claim_path):
    earlier = row("U", at=-1)
    # A crashed worker's row, later than ``earlier`` (an operator requeued
    # ``earlier`` meanwhile): in-flight rows are claimed first.
    row("U", at=-20, status=Status.IN_FLIGHT, owner="crashed")
    other = row("V", at=-30, status=Status.IN_FLIGHT, owner="crashed")
    assert ids(outbox.claim(1, lease_seconds=30)[1]) == [other.id]
    assert ids(outbox.claim(1, lease_seconds=30)[1]) == [earlier.id]


def test_a_lease_that_ran_out_is_not_renewed_so_its_tail_cannot_overtake(claim_path):
    """A stalls past its lease; B takes U's first two events; A, waking,
    must not keep (and send) U's last two ahead of them."""
    rows = [row("U") for _ in range(4)]
    token_a, claimed = outbox.claim(4, lease_seconds=30)
    assert ids(claimed) == [r.id for r in rows]
    OutboxEvent.objects.filter(lease_owner=token_a).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    token_b, taken = outbox.claim(2, lease_seconds=30)
    assert ids(taken) == [rows[0].id, rows[1].id]
    assert outbox.renew(ids(claimed), token_a, lease_seconds=30) == set()
    # Once B is done, the rest is anyone's, in order.
    outbox.mark_sent(ids(taken), token_b)
    assert ids(outbox.claim(4, lease_seconds=30)[1]) == [rows[2].id, rows[3].id]


def test_a_live_lease_is_renewed(claim_path):
    rows = [row("U") for _ in range(2)]
    token, claimed = outbox.claim(2, lease_seconds=30)
    assert outbox.renew(ids(claimed), token, lease_seconds=60) == {r.id for r in rows}


def open_rows():
    return {
        pk: (user, status, at)
        for pk, user, status, at in OutboxEvent.objects.filter(status__in=OPEN).values_list(
            "id", "user_id", "status", "next_attempt_at"
        )
    }


def assert_claim_keeps_order(before, claimed, now):
    """Every claimed row was due, and every open row recorded before it for
    the same userId was claimed with it."""
    taken = set(ids(claimed))
    for pk in taken:
        user, _status, at = before[pk]
        assert at <= now, f"#{pk} was not due"
        earlier = {other for other, (u, _s, _a) in before.items() if u == user and other < pk}
        assert earlier <= taken, f"#{pk} of {user} claimed without earlier {earlier - taken}"


@pytest.mark.parametrize("seed", range(6))
def test_claims_of_any_size_keep_every_visitors_order(claim_path, seed):
    """Random outboxes (three visitors; rows pending, backing off, in flight
    under a live or an expired lease, released with due times out of order),
    claimed with every limit: a claim holds, per visitor, only a prefix of
    the open rows; and whenever some visitor's first open row is due, a
    claim takes something (nothing is stuck behind a blocked row)."""
    rng = random.Random(seed)
    for _ in range(12):
        status = rng.choice([Status.PENDING] * 3 + [Status.IN_FLIGHT, Status.SENT])
        owner = "other-worker" if status == Status.IN_FLIGHT else ""
        row(
            rng.choice("UVW"),
            at=rng.choice([-30, -20, -10, -5, -1, 60]),
            status=status,
            owner=owner,
        )
    before = open_rows()
    now = timezone.now()
    first_open = {}
    for pk in sorted(before):
        first_open.setdefault(before[pk][0], pk)
    something_due = any(before[pk][2] <= now for pk in first_open.values())
    for limit in range(1, len(before) + 1):
        savepoint = transaction.savepoint()
        _, claimed = outbox.claim(limit, lease_seconds=30)
        assert len(claimed) <= limit
        assert_claim_keeps_order(before, claimed, timezone.now())
        assert bool(claimed) == something_due
        transaction.savepoint_rollback(savepoint)


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_share_a_row(claim_path):
    """Two threads (two connections) claim and mark sent as fast as they
    can: every row is claimed exactly once."""
    OutboxEvent.objects.bulk_create(
        outbox.new_event("PAGE_VIEW", {"name": "PAGE_VIEW", "userId": f"u{i}", "sessionId": "s"})
        for i in range(600)
    )
    taken = [[], []]
    errors = []
    start = threading.Barrier(2)

    def worker(mine):
        try:
            start.wait()
            while True:
                token, claimed = outbox.claim(7, lease_seconds=30)
                if not claimed:
                    break
                mine.extend(ids(claimed))
                outbox.mark_sent(ids(claimed), token)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert not set(taken[0]) & set(taken[1])
    assert len(taken[0]) + len(taken[1]) == 600
    assert OutboxEvent.objects.filter(status=Status.SENT).count() == 600


@pytest.mark.django_db(transaction=True)
def test_a_claim_committed_while_another_claim_reads_cannot_let_it_overtake(claim_path):
    """Worker B claims U's first event just after worker A's claim has read
    where the open rows start: A must still see that event as open (one
    snapshot), so it leaves U's second event alone. (Two statements, two
    snapshots under READ COMMITTED: A once took the second event.)"""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite claims one at a time: nothing commits in between")
    first, second = row("U"), row("U")
    taken_by_b = []

    def b_claims():
        try:
            taken_by_b.extend(ids(outbox.claim(1, lease_seconds=30)[1]))
        finally:
            connection.close()

    fired = []

    def after_the_first_lookup(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not fired and "BETWEEN" in sql:
            fired.append(sql)
            thread = threading.Thread(target=b_claims)
            thread.start()
            thread.join(30)
        return result

    with connection.execute_wrapper(after_the_first_lookup):
        _, taken_by_a = outbox.claim(10, lease_seconds=30)
    assert fired and taken_by_b == [first.id]
    assert second.id not in ids(taken_by_a)


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_at_once_never_take_a_visitors_later_event_first(claim_path):
    """Four threads claim, check and mark sent as fast as they can, over 150
    visitors with 6 events each: every row a claim takes has each earlier
    row of its visitor either sent already or in the same claim. (Not on
    SQLite: its claims take turns, and four threads polling its file starve
    the writer into "database is locked".)"""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite claims one at a time (test_two_workers_... covers it)")
    OutboxEvent.objects.bulk_create(
        outbox.new_event(
            "PAGE_VIEW", {"name": "PAGE_VIEW", "userId": f"u{i % 150}", "sessionId": "s"}
        )
        for i in range(900)
    )
    problems, errors, sent = [], [], []
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait()
            while True:
                token, claimed = outbox.claim(37, lease_seconds=30)
                if not claimed:
                    if not OutboxEvent.objects.filter(status__in=OPEN).exists():
                        break
                    time.sleep(0.005)  # another worker holds what is left
                    continue
                mine = set(ids(claimed))
                users = {event.user_id for event in claimed}
                for pk, user, status in OutboxEvent.objects.filter(user_id__in=users).values_list(
                    "id", "user_id", "status"
                ):
                    later = [c.id for c in claimed if c.user_id == user and c.id > pk]
                    if later and pk not in mine and status != Status.SENT:
                        problems.append((user, pk, status, later))
                sent.extend(mine)
                outbox.mark_sent(list(mine), token)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert problems == []
    assert len(sent) == len(set(sent)) == 900


# -- Order: the sender, against a fake data center ---------------------------


def checkout(user, step):
    """A CHECKOUT event of ``user`` at ``step`` (stored as track() would)."""
    body = CHECKOUT_PURCHASE if step == "purchase" else CHECKOUT
    fields = {key: value for key, value in body.items() if key != "name"}
    return {**fields, "userId": user, "step": step}


def record_checkout(user):
    import dengage_django

    for step in STEPS:
        dengage_django.track("CHECKOUT", **checkout(user, step))


def steps_received(server, user):
    return [event["step"] for event in server.events if event["userId"] == user]


def make_everything_due(retried_last=True):
    """Every pending row due now; with ``retried_last`` the ones tried once
    are due after the untried ones (as a backoff makes them)."""
    now = timezone.now()
    OutboxEvent.objects.filter(status=Status.PENDING, attempts=0).update(
        next_attempt_at=now - timedelta(seconds=10)
    )
    OutboxEvent.objects.filter(status=Status.PENDING, attempts__gt=0).update(
        next_attempt_at=now - timedelta(seconds=1 if retried_last else 20)
    )


def test_a_503_never_lets_payment_and_purchase_overtake_basket_and_customer(fake_server):
    """basket, customer, payment, purchase for one visitor, two per request,
    and one 503: Dengage receives them in that order, while another
    visitor's events go out meanwhile."""
    record_checkout("U")
    record_checkout("V")
    fake_server.fail_next(1, status=503)
    report = Sender(batch_size=2).drain()
    # U's first request failed; U's other two events waited; V's went out.
    assert (report.retrying, report.sent) == (2, 4)
    assert steps_received(fake_server, "U") == []
    assert steps_received(fake_server, "V") == list(STEPS)
    make_everything_due()
    assert Sender(batch_size=2).drain().sent == 4
    assert steps_received(fake_server, "U") == list(STEPS)


def test_a_503_while_isolating_a_bad_event_keeps_the_order(fake_server):
    """The request is refused as bad (400), its first half then fails with a
    503: the second half, never tried, waits for the first."""
    record_checkout("U")
    fake_server.fail_next(1, status=400)
    fake_server.fail_next(1, status=503)
    report = Sender(batch_size=4).drain()
    assert (report.retrying, report.sent, report.dead) == (2, 0, 0)
    assert steps_received(fake_server, "U") == []
    make_everything_due()
    assert Sender(batch_size=4).drain().sent == 4
    assert steps_received(fake_server, "U") == list(STEPS)


def test_untried_events_of_a_failed_visitor_wait_its_backoff(fake_server):
    """When a request fails, the untried events of its visitors are given
    back with the same delay as the failed ones; other visitors' at once."""
    record_checkout("U")
    record_checkout("V")
    fake_server.fail_next(1, status=503)
    token, claimed = outbox.claim(8, lease_seconds=30)
    Sender(batch_size=2)._deliver(token, claimed, DrainReport())
    rows = {(row.user_id, row.payload["step"]): row for row in OutboxEvent.objects.all()}
    failed = rows["U", "basket"].next_attempt_at
    assert rows["U", "customer"].next_attempt_at == failed
    now = timezone.now()
    assert failed > now + timedelta(seconds=4)
    for step in ("payment", "purchase"):
        assert (rows["U", step].status, rows["U", step].attempts) == (Status.PENDING, 0)
        assert rows["U", step].next_attempt_at >= failed
    for step in STEPS:
        assert (rows["V", step].status, rows["V", step].attempts) == (Status.PENDING, 0)
        assert rows["V", step].next_attempt_at <= now


# -- Clocks ------------------------------------------------------------------


def test_a_worker_whose_clock_runs_ahead_cannot_take_live_rows(claim_path, monkeypatch):
    for user in "UVW":
        row(user)
    token, claimed = outbox.claim(10, lease_seconds=45)
    assert len(claimed) == 3
    with clock_shifted(monkeypatch, +50):
        assert outbox.claim(10, lease_seconds=45)[1] == []
    assert set(OutboxEvent.objects.values_list("lease_owner", flat=True)) == {token}


def test_a_worker_whose_clock_runs_behind_holds_a_whole_lease(claim_path, monkeypatch):
    for user in "UVW":
        row(user)
    with clock_shifted(monkeypatch, -50):
        token, claimed = outbox.claim(10, lease_seconds=45)
    assert len(claimed) == 3
    # A worker on time must not see that lease as over.
    assert outbox.claim(10, lease_seconds=45)[1] == []
    assert outbox.due_count() == 0
    held = OutboxEvent.objects.filter(lease_owner=token)
    assert all(r.next_attempt_at > timezone.now() + timedelta(seconds=40) for r in held)


def test_renewals_and_retry_times_follow_the_database_clock(claim_path, monkeypatch):
    for user in "UVWX":
        row(user)
    token, claimed = outbox.claim(10, lease_seconds=45)
    a, b, c, d = ids(claimed)
    with clock_shifted(monkeypatch, -3600):
        assert outbox.renew([a], token, lease_seconds=60) == {a}
        outbox.mark_retry([b], token, "HTTP 503", delay_seconds=60)
        outbox.release([c], token, delay_seconds=60)
        outbox.release([d], token)
    rows = {r.id: r for r in OutboxEvent.objects.all()}
    now = timezone.now()
    for pk in (a, b, c):
        assert rows[pk].next_attempt_at > now + timedelta(seconds=55), pk
    assert abs(rows[d].next_attempt_at - now) < timedelta(seconds=30)
    assert outbox.due_count() == 1


def test_senders_with_skewed_clocks_send_each_event_once(fake_server, monkeypatch):
    """A sender whose clock is 50 s ahead drains while another's claim is
    still live: it leaves those rows alone."""
    for user in "UV":
        record_checkout(user)
    token, claimed = outbox.claim(4, lease_seconds=45)  # the first worker: U's events
    with clock_shifted(monkeypatch, +50):
        report = Sender().drain()
    assert report.sent == 4
    assert steps_received(fake_server, "V") == list(STEPS)
    assert steps_received(fake_server, "U") == []
    assert set(
        OutboxEvent.objects.filter(id__in=ids(claimed)).values_list("status", flat=True)
    ) == {Status.IN_FLIGHT}


def test_a_live_sends_lease_follows_the_database_clock(monkeypatch):
    """A web worker whose clock is an hour behind stores a live send's
    events with a whole lease all the same: no sender takes them mid-call."""
    row("U")  # waiting: taken by the live send
    new = outbox.new_event("PAGE_VIEW", {"name": "PAGE_VIEW", "userId": "U", "sessionId": "s"})
    with clock_shifted(monkeypatch, -3600):
        taken, refused = outbox.lease_for_live("U", [new], "live", lease_seconds=60, limit=10)
    assert refused == "" and len(taken) == 1
    now = timezone.now()
    held = OutboxEvent.objects.filter(lease_owner="live")
    assert held.count() == 2
    assert all(r.next_attempt_at > now + timedelta(seconds=55) for r in held)
    assert outbox.due_count() == 0
