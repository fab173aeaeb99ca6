"""The outbox table's state transitions: the only code that changes an
event's status, and the one that sends the signals about it.

::

    (record) --> pending --claim--> in_flight --mark_sent--> sent
                 ^   ^                |  |
                 |   +--mark_retry----+  +--mark_dead--> dead --requeue--+
                 |   +--release-------+                                  |
                 +-------------------------------------------------------+
    (record, invalid) --> invalid        pending --kill (operator)--> dead

* :func:`insert` writes rows in the caller's transaction: a rolled-back
  transaction records nothing.
* :func:`claim` takes due rows for one worker under a lease, in its own short
  transaction; the HTTP call happens after it commits.
* :func:`mark_sent`, :func:`mark_retry`, :func:`mark_dead`, :func:`release`
  and :func:`renew` act only on rows the caller still holds (same lease
  token), so a worker whose lease ran out cannot overwrite another's work.
* :func:`requeue`, :func:`kill` and :func:`make_due` are the operator's
  (the admin's actions, ``--requeue-dead``); :func:`purge` ends a row.

Questions about rows (due, held, oldest) are the model's QuerySet's
(:class:`~dengage_django.models.OutboxEventQuerySet`); :func:`events` is
that QuerySet on the outbox's database.

Order. Dengage's API carries no event time: the order on the wire is the
only order. A claim never takes an event while an earlier event of the same
``userId`` is open (pending, backing off or in flight) and not taken by the
same claim, and a claim's events are sent in id order: one visitor's events
reach Dengage in the order they were recorded, across retries and workers.

Clocks. Lease expiry and retry times are computed, and compared, on the
database's clock (:func:`~dengage_django.models.clock`), so workers whose
clocks disagree still agree on whose lease is live.

Databases with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL, MariaDB
10.6+, MySQL 8.0.1+) claim with it. Others (SQLite; MariaDB 10.5 and MySQL
5.7, which also refuse ``LIMIT`` in an ``IN`` subquery) read the ids, then
update those rows re-checking that each is still due, in one transaction:
no row is ever taken twice (SQLite's write lock is taken first, so its
workers take turns).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, connections, router, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from . import signals
from .models import OutboxEvent, clock

if TYPE_CHECKING:
    from .models import OutboxEventQuerySet

Status = OutboxEvent.Status
CLAIMABLE = OutboxEvent.CLAIMABLE
CLAIM_RETRIES = 3
DELETE_CHUNK = 1000


def db_alias() -> str:
    return router.db_for_write(OutboxEvent)


def events() -> OutboxEventQuerySet:
    """Every outbox row, on the outbox's database."""
    return OutboxEvent.objects.using(db_alias())


def new_event(
    name: str,
    payload: Any,
    *,
    status: str = Status.PENDING,  # type: ignore[assignment]  # Status is untyped: no stubs
    error: str = "",
) -> OutboxEvent:
    """An unsaved outbox row for ``payload``."""
    user_id = payload.get("userId") if isinstance(payload, dict) else None
    return OutboxEvent(
        name=name,
        payload=payload,
        user_id=str(user_id or "")[:128],
        status=status,
        last_error=error,
    )


#: Most rows one plain INSERT statement carries (SQLite caps parameters).
INSERT_ROWS = 50


def insert(events: Sequence[OutboxEvent]) -> Sequence[OutboxEvent]:
    """Store unsaved rows in one INSERT, in the current transaction if any.

    Outside a transaction a single INSERT statement is atomic by itself;
    ``bulk_create`` would wrap it in a transaction of its own (BEGIN and
    COMMIT round trips on every tracked request), so the rows go in one
    plain statement, their primary keys read back with ``RETURNING`` where
    the database has it (PostgreSQL, SQLite 3.35+, MariaDB 10.5+). This
    builds the statement from the model's fields (``pre_save``,
    ``get_db_prep_save``, ``_state``: Django internals) because
    ``bench/middleware.py`` shows the saved round trips on every page.
    """
    alias = db_alias()
    connection = connections[alias]
    if connection.in_atomic_block or not 0 < len(events) <= INSERT_ROWS:
        return OutboxEvent.objects.using(alias).bulk_create(events)
    fields = [field for field in OutboxEvent._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(OutboxEvent._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES {', '.join([row] * len(events))}"
    )
    params = [
        field.get_db_prep_save(field.pre_save(event, True), connection)
        for event in events
        for field in fields
    ]
    returning = connection.features.can_return_rows_from_bulk_insert
    if returning:
        sql += f" RETURNING {quote(OutboxEvent._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            for event, (pk,) in zip(events, cursor.fetchall(), strict=True):
                event.pk = pk
    for event in events:
        event._state.adding = False
        event._state.db = alias
    return events


def record(rows: Sequence[OutboxEvent]) -> Sequence[OutboxEvent]:
    """Store unsaved rows (:func:`insert`), then send ``event_recorded`` for
    each: the transition into ``pending`` (or ``invalid``).

    Inside a transaction the insert runs in a savepoint, so a failure
    cannot poison the caller's transaction when the caller goes on.
    """
    alias = db_alias()
    if connections[alias].in_atomic_block:
        with transaction.atomic(using=alias):
            insert(rows)
    else:
        insert(rows)
    _recorded(rows)
    return rows


def _recorded(rows: Sequence[OutboxEvent]) -> None:
    for row in rows:
        signals.send(signals.event_recorded, OutboxEvent, event=row)


def record_one(
    name: str,
    payload: Any,
    *,
    status: str = Status.PENDING,  # type: ignore[assignment]  # Status is untyped: no stubs
    error: str = "",
) -> OutboxEvent:
    """Store one event (in the current transaction, if any) and return it."""
    return record([new_event(name, payload, status=status, error=error)])[0]


def new_lease_token() -> str:
    """A token unique to one claim: host, pid and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class Claimed:
    """One event held by a worker under a lease."""

    id: int
    name: str
    payload: dict
    attempts: int
    user_id: str = ""


def claim(
    limit: int,
    *,
    lease_seconds: float,
    token: str | None = None,
    now: datetime | None = None,
) -> tuple[str, list[Claimed]]:
    """Claim up to ``limit`` due events; returns ``(token, [Claimed...])``.

    Expired leases are taken first (their events are the oldest), then
    pending events whose retry time has come, each in ``next_attempt_at``
    then ``id`` order, leaving out any event whose userId has an earlier
    open event the claim does not take (see the module's "Order"). The
    result is sorted by id. The lease runs ``lease_seconds`` on the
    database's clock; ``now`` replaces that clock (tests).
    """
    token = token or new_lease_token()
    alias = db_alias()
    for attempt in range(CLAIM_RETRIES):
        try:
            return token, _claim_ids(alias, limit, token, lease_seconds, now)
        except OperationalError:
            # A deadlock or lock timeout between workers: nothing was
            # claimed (the transaction rolled back); try again.
            if attempt == CLAIM_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _due(alias: str, status: Any, now: Any, oldest: int) -> OutboxEventQuerySet:
    """Due rows of ``status`` that no earlier open row of their userId holds
    back, in claim order, as :data:`Candidate` tuples: ``previous`` is the
    nearest earlier open row of the same userId (``None``: none); the rest
    is what a worker sends (read here, not again once claimed).

    An earlier open row holds a row back when it is due later than the row
    (backing off, or under a live lease: then it is not due at all), or,
    for an expired lease, when it is pending (pending rows are claimed after
    expired leases). Every other earlier open row comes first in claim
    order, so it is claimed first or with the row; :func:`_in_order` checks,
    with ``previous``, what this cannot see (rows a claim leaves out, rows
    another worker has locked).

    Both probes read the user index, ``(user_id, id)``, from ``oldest`` (the
    oldest open row's id) on: they skip the visitor's sent history, and the
    index never changes once a row is written (claiming, retrying and
    sending leave it alone).
    """
    rows = OutboxEvent.objects.using(alias)
    earlier = rows.filter(
        user_id=OuterRef("user_id"),
        id__gte=oldest,
        id__lt=OuterRef("id"),
        status__in=CLAIMABLE,
    )
    holding = Q(next_attempt_at__gt=OuterRef("next_attempt_at"))
    if status == Status.IN_FLIGHT:
        holding |= Q(status=Status.PENDING)
    # MAX rather than ORDER BY id DESC LIMIT 1: MariaDB walks the visitor's
    # later rows backwards first, reading each one.
    previous = earlier.order_by().values("user_id").annotate(last=Max("id")).values("last")
    return (
        rows.filter(status=status, next_attempt_at__lte=now)
        .filter(Q(user_id="") | ~Exists(earlier.filter(holding)))
        .order_by("next_attempt_at", "id")
        .annotate(previous=Subquery(previous))
        .values_list("id", "user_id", "previous", "name", "payload", "attempts")
    )


def _oldest_open(alias: str) -> int | None:
    """The id of the oldest open row (pending or in flight), or ``None``:
    two lookups at the start of the ``(status, id)`` index, in **one**
    statement. Under READ COMMITTED (PostgreSQL's default, and Django's for
    MySQL and MariaDB) two statements read two snapshots: rows a worker
    claimed in between would be pending in neither, and a later event could
    then overtake them.

    Each status is asked for its first row in ``(status, id)`` order with
    the status as a range of one value: told ``status = x``, PostgreSQL
    drops ``status`` from the order and, expecting open rows everywhere,
    walks the primary key from the oldest sent row instead.
    """
    rows = OutboxEvent.objects.using(alias)

    def first(status: Any) -> Subquery:
        open_rows = rows.filter(status__range=(status, status)).order_by("status", "id")
        return Subquery(open_rows.values("id")[:1])

    found = (
        rows.order_by()
        .annotate(first_in_flight=first(Status.IN_FLIGHT), first_pending=first(Status.PENDING))
        .values_list("first_in_flight", "first_pending")[:1]
    )
    return min((pk for pk in next(iter(found), ()) if pk is not None), default=None)


#: A due row: ``(id, user_id, previous, name, payload, attempts)``, where
#: ``previous`` is the id of the nearest earlier open row of that userId.
Candidate = tuple[int, str, "int | None", str, Any, int]


def _in_order(candidates: list[Candidate]) -> list[Candidate]:
    """The ``candidates`` whose earlier open rows of the same userId are all
    candidates too, in id order: a row is claimed with its nearest earlier
    open row, which is claimed with its own, and so on."""
    kept: list[Candidate] = []
    ids: set[int] = set()
    for row in sorted(candidates, key=lambda row: row[0]):
        pk, user, previous = row[:3]
        if not user or previous is None or previous in ids:
            kept.append(row)
            ids.add(pk)
    return kept


def _claimed(rows: list[Candidate], held: set[int] | None = None) -> list[Claimed]:
    return [
        Claimed(pk, name, payload, attempts, user)
        for pk, user, _previous, name, payload, attempts in rows
        if held is None or pk in held
    ]


def _claim_ids(
    alias: str, limit: int, token: str, lease_seconds: float, now: datetime | None
) -> list[Claimed]:
    """Claim rows for ``token`` in one transaction; returns them, by id."""
    connection = connections[alias]
    skip_locked = connection.features.has_select_for_update_skip_locked
    current = clock(now, using=alias)
    claim_fields = dict(
        status=Status.IN_FLIGHT,
        lease_owner=token,
        next_attempt_at=clock(now, plus=lease_seconds, using=alias),
    )
    rows = OutboxEvent.objects.using(alias)
    with transaction.atomic(using=alias):
        if connection.vendor == "sqlite":
            # Take SQLite's one write lock before reading (waiting for it
            # as long as any write would), so no other worker writes between
            # the read and the update: a deferred transaction would instead
            # fail with "database is locked" when it came to write.
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(OutboxEvent._meta.db_table)
                cursor.execute(f"UPDATE {table} SET id = id WHERE 1 = 0")
        oldest = _oldest_open(alias)
        if oldest is None:
            return []
        candidates: list[Candidate] = []
        for status in CLAIMABLE:
            wanted = limit - len(candidates)
            if wanted <= 0:
                break
            due = _due(alias, status, current, oldest)
            if skip_locked:
                due = due.select_for_update(skip_locked=True)
            candidates += due[:wanted]
        kept = _in_order(candidates)
        if not kept:
            return []
        ids = [row[0] for row in kept]
        if skip_locked:
            # Locked by this transaction since the read: all still due.
            rows.filter(id__in=ids).update(**claim_fields)
            return _claimed(kept)
        # Without row locks another worker may have taken some since the
        # read: the update re-checks each row (an UPDATE is atomic).
        claimed = rows.filter(
            id__in=ids, status__in=CLAIMABLE, next_attempt_at__lte=current
        ).update(**claim_fields)
        if claimed == len(ids):
            return _claimed(kept)
        held = set(rows.held_by(token, ids).values_list("id", flat=True))
        return _claimed(kept, _without_overtaking(alias, candidates, held, token, current))


def _without_overtaking(
    alias: str, candidates: list[Candidate], held: set[int], token: str, now: Any
) -> set[int]:
    """Give back the held rows recorded after a candidate of the same userId
    that another worker took first; returns the ids still held."""
    lost: dict[str, int] = {}
    for pk, user, *_rest in candidates:
        if user and pk not in held:
            lost[user] = min(pk, lost.get(user, pk))
    behind = [
        pk for pk, user, *_rest in candidates if pk in held and user in lost and pk > lost[user]
    ]
    if behind:
        (
            OutboxEvent.objects.using(alias)
            .held_by(token, behind)
            .update(status=Status.PENDING, lease_owner="", next_attempt_at=now)
        )
    return held - set(behind)


# -- live sends (decisions.live) -------------------------------------------------


def claim_visitor(user_id: str, token: str, *, lease_seconds: float) -> list[Claimed] | None:
    """Take one visitor's due events under lease ``token`` for a live send
    (they go first in its POST); ``[]`` when the visitor has nothing open.

    ``None``, taking nothing, when sending now would overtake one of the
    visitor's open events: one backing off, or in flight under another
    lease (a sender's request, another live send, a lease that ran out:
    its worker may still be sending). The check follows the update, in one
    transaction, so a sender claiming at the same moment is seen.
    """
    with transaction.atomic(using=db_alias()):
        return _claim_visitor(user_id, token, lease_seconds)


def _claim_visitor(user_id: str, token: str, lease_seconds: float) -> list[Claimed] | None:
    """:func:`claim_visitor` inside the caller's transaction, rolled back
    when it answers ``None``."""
    if not user_id:
        return None
    open_rows = events().filter(user_id=user_id, status__in=CLAIMABLE)
    taken = open_rows.filter(status=Status.PENDING, next_attempt_at__lte=clock()).update(
        status=Status.IN_FLIGHT, lease_owner=token, next_attempt_at=clock(plus=lease_seconds)
    )
    if open_rows.exclude(status=Status.IN_FLIGHT, lease_owner=token).exists():
        transaction.set_rollback(True, using=db_alias())
        return None
    if not taken:  # the token is new: nothing else is held under it
        return []
    rows = events().held_by(token).filter(user_id=user_id).order_by("id")
    return [
        Claimed(pk, name, payload, attempts, user)
        for pk, name, payload, attempts, user in rows.values_list(
            "id", "name", "payload", "attempts", "user_id"
        )
    ]


def lease_for_live(
    user_id: str,
    rows: Sequence[OutboxEvent],
    token: str,
    *,
    lease_seconds: float,
    limit: int,
) -> tuple[list[Claimed], str]:
    """A live send's outbox work before its POST, in one transaction:
    :func:`claim_visitor` takes the visitor's due events and
    :func:`record_leased` stores ``rows`` in flight, both under lease
    ``token``; ``event_recorded`` is sent once it has committed. Returns
    ``(taken, "")``; ``([], why)``, taking and storing nothing, when sending
    now would overtake one of the visitor's open events or the POST would
    hold more than ``limit`` events. A failure leaves ``rows`` unsaved, the
    caller's to store as usual."""
    alias = db_alias()
    due = _lease(rows, token, lease_seconds)
    try:
        with transaction.atomic(using=alias):
            claimed = _claim_visitor(user_id, token, lease_seconds)
            taken = claimed or []
            if claimed is None:
                why = "an earlier event of the visitor is open: out of order now"
            elif len(taken) + len(rows) > limit:
                transaction.set_rollback(True, using=alias)
                why = "too many events waiting"
            else:
                why = ""
                insert(rows)  # no savepoint: a failure rolls the claim back too
                if any(row.pk is None for row in rows):  # no RETURNING (MySQL)
                    _read_keys(rows, token, taken)
                # The lease on the database's clock, as every lease.
                events().filter(pk__in=[row.pk for row in rows]).update(
                    next_attempt_at=clock(plus=lease_seconds)
                )
    except Exception:
        # Rolled back (the COMMIT itself may have failed after the INSERT).
        _unlease(rows, due, unsave=True)
        raise
    if why:
        _unlease(rows, due)
        return [], why
    _recorded(rows)
    return taken, ""


def _read_keys(rows: Sequence[OutboxEvent], token: str, taken: list[Claimed]) -> None:
    """Primary keys of ``rows`` just inserted under ``token`` after the
    ``taken`` ones, where the INSERT could not return them: one multi-row
    INSERT numbers its rows in order."""
    earlier = [event.id for event in taken]
    keys = events().held_by(token).exclude(id__in=earlier).order_by("id")
    for row, pk in zip(rows, keys.values_list("id", flat=True), strict=True):
        row.pk = pk


def record_leased(
    rows: Sequence[OutboxEvent], token: str, *, lease_seconds: float
) -> Sequence[OutboxEvent]:
    """Store unsaved valid rows already in flight under lease ``token`` (a
    live send's new events), in the current transaction if any: no sender
    takes them, nor their visitors' later events, until the lease owner
    marks them sent or releases them, or the lease runs out
    (``lease_seconds`` on this process's clock: give it a margin)."""
    due = _lease(rows, token, lease_seconds)
    try:
        return record(rows)
    except Exception:
        _unlease(rows, due)  # not stored: the caller's to store as usual
        raise


def _lease(rows: Sequence[OutboxEvent], token: str, lease_seconds: float) -> list:
    """Put unsaved valid ``rows`` in flight under ``token``; returns when
    they were due, for :func:`_unlease`."""
    if not token or not lease_seconds > 0:
        raise ValueError("a live lease needs a token and a positive duration")
    if any(row.status != Status.PENDING or row.pk is not None for row in rows):
        raise ValueError("only valid, unsaved events are sent live")
    expiry = timezone.now() + timedelta(seconds=lease_seconds)
    due = [row.next_attempt_at for row in rows]
    for row in rows:
        row.status, row.lease_owner, row.next_attempt_at = Status.IN_FLIGHT, token, expiry
    return due


def _unlease(rows: Sequence[OutboxEvent], due: list, *, unsave: bool = False) -> None:
    """Undo :func:`_lease`; ``unsave``: and forget the keys an INSERT that
    was rolled back gave them."""
    for row, when in zip(rows, due, strict=True):
        row.status, row.lease_owner, row.next_attempt_at = Status.PENDING, "", when
        if unsave:
            row.pk = None
            row._state.adding, row._state.db = True, None


def _held(ids: Iterable[int], token: str) -> OutboxEventQuerySet:
    return events().held_by(token, ids)


def renew(ids: Iterable[int], token: str, *, lease_seconds: float) -> set[int]:
    """Extend the lease on ``ids`` whose lease has not run out; returns
    them. A lease that ran out is not taken back, even on rows nobody else
    took (yet): another worker may have taken a visitor's first events and
    be about to take the rest, so keeping the rest would let them overtake."""
    held = _held(ids, token).filter(next_attempt_at__gt=clock())
    held.update(next_attempt_at=clock(plus=lease_seconds))
    return set(held.values_list("id", flat=True))


def mark_sent(ids: Iterable[int], token: str, *, note: str = "", sender: type = OutboxEvent) -> int:
    """Dengage accepted these events (signal ``batch_sent``). ``note`` stays
    in ``last_error`` of the sent rows: what was odd about the answer (its
    ``responses`` not matching the events, counted by ``dengage_status``)."""
    ids = list(ids)
    count = _held(ids, token).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        attempts=F("attempts") + 1,
        lease_owner="",
        last_error=note,
    )
    signals.send(signals.batch_sent, sender, event_ids=ids, count=count)
    return count


def mark_dead(ids: Iterable[int], token: str, error: str, *, sender: type = OutboxEvent) -> int:
    """A request for these events failed for good: Dengage rejected them or
    their attempts ran out (signals ``event_failed``, then ``event_dead``)."""
    ids = list(ids)
    count = _held(ids, token).update(
        status=Status.DEAD,
        attempts=F("attempts") + 1,
        lease_owner="",
        last_error=error,
    )
    signals.send(signals.event_failed, sender, event_ids=ids, error=error, retrying=False)
    signals.send(signals.event_dead, sender, event_ids=ids, reason=error)
    return count


def mark_retry(
    ids: Iterable[int],
    token: str,
    error: str,
    *,
    delay_seconds: float,
    sender: type = OutboxEvent,
) -> int:
    """A failed try: back to pending, due again after ``delay_seconds``
    (signal ``event_failed`` with ``retrying=True``)."""
    ids = list(ids)
    count = _held(ids, token).update(
        status=Status.PENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=clock(plus=delay_seconds),
        lease_owner="",
        last_error=error,
    )
    signals.send(signals.event_failed, sender, event_ids=ids, error=error, retrying=True)
    return count


def release(ids: Iterable[int], token: str, *, error: str = "", delay_seconds: float = 0) -> int:
    """Give events back untried: pending again, no attempt counted."""
    fields = dict(
        status=Status.PENDING,
        next_attempt_at=clock(plus=delay_seconds),
        lease_owner="",
    )
    if error:
        fields["last_error"] = error
    return _held(ids, token).update(**fields)


def requeue(rows: OutboxEventQuerySet | None = None) -> int:
    """Give dead events (all, or those among ``rows``) a fresh set of
    attempts, due now; returns how many."""
    rows = events() if rows is None else rows
    return rows.filter(status=Status.DEAD).update(
        status=Status.PENDING, attempts=0, next_attempt_at=clock(), lease_owner="", sent_at=None
    )


def requeue_dead() -> int:
    """Requeue every dead event (``send_dengage_outbox --requeue-dead``)."""
    return requeue()


def kill(rows: OutboxEventQuerySet, reason: str) -> int:
    """An operator gives up on pending events among ``rows``: they go dead
    with ``reason`` (signal ``event_dead``); returns how many."""
    ids = list(rows.filter(status=Status.PENDING).values_list("id", flat=True))
    count = (
        events()
        .filter(id__in=ids, status=Status.PENDING)
        .update(status=Status.DEAD, last_error=reason)
    )
    if count:
        signals.send(signals.event_dead, OutboxEvent, event_ids=ids, reason=reason)
    return count


def make_due(rows: OutboxEventQuerySet) -> int:
    """Clear the retry back-off of pending events among ``rows``; returns
    how many of ``rows`` are due now (live leases and finished rows are left
    alone)."""
    now = clock()
    rows.filter(status=Status.PENDING, next_attempt_at__gt=now).update(next_attempt_at=now)
    return rows.due().count()


#: The statuses a row ends in: :func:`purge` deletes them once old.
FINISHED = ("sent", "dead", "invalid")


def purge(status: str, older_than_days: float) -> int:
    """Delete events of ``status`` (sent, dead or invalid) recorded more
    than ``older_than_days`` days ago, in small batches; returns how many."""
    if status not in FINISHED:
        raise ValueError(f"only {', '.join(FINISHED)} events are purged, not {status!r}")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    while True:
        ids = list(
            events()
            .filter(status=status, created_at__lt=cutoff)
            .values_list("id", flat=True)[:DELETE_CHUNK]
        )
        if not ids:
            return deleted
        deleted += events().filter(id__in=ids, status=status).delete()[0]


def purge_sent(older_than_days: float) -> int:
    """Delete sent events older than the given days (:func:`purge`)."""
    return purge("sent", older_than_days)


def counts():
    """Number of events per status (every status present, zero if none)."""
    result = {status.value: 0 for status in Status}
    rows = events().values("status").order_by()
    for status, count in rows.annotate(n=Count("id")).values_list("status", "n"):
        result[status] = count
    return result


def due_count(now: datetime | None = None) -> int:
    """How many events a worker could claim right now."""
    return events().due(now).count()
