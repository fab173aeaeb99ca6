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
  (the admin's actions, ``--requeue-dead``); :func:`purge_sent` ends a row.

Questions about rows (due, held, oldest) are the model's QuerySet's
(:class:`~dengage_django.models.OutboxEventQuerySet`); :func:`events` is
that QuerySet on the outbox's database.

Databases with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL, MariaDB
10.6+, MySQL 8) claim with it; SQLite, which has one writer at a time, claims
with a single ``UPDATE ... WHERE id IN (SELECT ... LIMIT n)`` statement.
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
from django.db.models import Count, F
from django.utils import timezone

from . import signals
from .models import OutboxEvent

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
    for row in rows:
        signals.send(signals.event_recorded, OutboxEvent, event=row)
    return rows


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
    then ``id`` order. The result is sorted by id so one visitor's events
    go out in the order they were recorded.
    """
    token = token or new_lease_token()
    alias = db_alias()
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds)
    for attempt in range(CLAIM_RETRIES):
        try:
            ids = _claim_ids(alias, limit, token, lease_until, now)
            break
        except OperationalError:
            # A deadlock or lock timeout between workers: nothing was
            # claimed (the transaction rolled back); try again.
            if attempt == CLAIM_RETRIES - 1:
                raise
    if not ids:
        return token, []
    # Every row just claimed has next_attempt_at == lease_until: with the
    # status, that is an equality on the claim index's first two columns, so
    # the read-back is an index range already in id order. Without it
    # SQLite's planner may scan the whole table (bench/scale.py shows it).
    rows = (
        events()
        .held_by(token)
        .filter(next_attempt_at=lease_until)
        .order_by("id")
        .values_list("id", "name", "payload", "attempts")
    )
    return token, [Claimed(*row) for row in rows]


def _due(alias: str, status: str, now: datetime) -> OutboxEventQuerySet:
    return (
        OutboxEvent.objects.using(alias)
        .due(now)
        .filter(status=status)
        .order_by("next_attempt_at", "id")
    )


def _claim_ids(alias, limit, token, lease_until, now):
    claim_fields = dict(status=Status.IN_FLIGHT, lease_owner=token, next_attempt_at=lease_until)
    claimed = 0
    if connections[alias].features.has_select_for_update_skip_locked:
        with transaction.atomic(using=alias):
            ids = []
            for status in CLAIMABLE:
                wanted = limit - len(ids)
                if wanted <= 0:
                    break
                ids += (
                    _due(alias, status, now)
                    .select_for_update(skip_locked=True)
                    .values_list("id", flat=True)[:wanted]
                )
            if ids:
                claimed = OutboxEvent.objects.using(alias).filter(id__in=ids).update(**claim_fields)
        return claimed
    # One writer at a time (SQLite): each UPDATE is atomic on its own, and
    # re-checks status and due time, so two workers never take one row.
    for status in CLAIMABLE:
        wanted = limit - claimed
        if wanted <= 0:
            break
        subquery = _due(alias, status, now).values("id")[:wanted]
        claimed += (
            OutboxEvent.objects.using(alias)
            .filter(id__in=subquery, status=status, next_attempt_at__lte=now)
            .update(**claim_fields)
        )
    return claimed


def _held(ids: Iterable[int], token: str) -> OutboxEventQuerySet:
    return events().held_by(token, ids)


def renew(ids: Iterable[int], token: str, *, lease_seconds: float) -> set[int]:
    """Extend the lease on ``ids``; returns the ids still held."""
    held = _held(ids, token)
    held.update(next_attempt_at=timezone.now() + timedelta(seconds=lease_seconds))
    return set(held.values_list("id", flat=True))


def mark_sent(ids: Iterable[int], token: str, *, sender: type = OutboxEvent) -> int:
    """Dengage accepted these events (signal ``batch_sent``)."""
    count = _held(ids, token).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        attempts=F("attempts") + 1,
        lease_owner="",
        last_error="",
    )
    signals.send(signals.batch_sent, sender, event_ids=list(ids), count=count)
    return count


def mark_dead(ids: Iterable[int], token: str, error: str, *, sender: type = OutboxEvent) -> int:
    """A request for these events failed for good: Dengage rejected them or
    their attempts ran out (signals ``event_failed``, then ``event_dead``)."""
    count = _held(ids, token).update(
        status=Status.DEAD,
        attempts=F("attempts") + 1,
        lease_owner="",
        last_error=error,
    )
    ids = list(ids)
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
    count = _held(ids, token).update(
        status=Status.PENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=timezone.now() + timedelta(seconds=delay_seconds),
        lease_owner="",
        last_error=error,
    )
    signals.send(signals.event_failed, sender, event_ids=list(ids), error=error, retrying=True)
    return count


def release(ids: Iterable[int], token: str, *, error: str = "", delay_seconds: float = 0) -> int:
    """Give events back untried: pending again, no attempt counted."""
    fields = dict(
        status=Status.PENDING,
        next_attempt_at=timezone.now() + timedelta(seconds=delay_seconds),
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
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), lease_owner=""
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
    now = timezone.now()
    rows.filter(status=Status.PENDING, next_attempt_at__gt=now).update(next_attempt_at=now)
    return rows.due(now).count()


def purge_sent(older_than_days: float) -> int:
    """Delete sent events older than the given days, in small batches."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    while True:
        ids = list(
            events()
            .filter(status=Status.SENT, created_at__lt=cutoff)
            .values_list("id", flat=True)[:DELETE_CHUNK]
        )
        if not ids:
            return deleted
        deleted += events().filter(id__in=ids).delete()[0]


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
