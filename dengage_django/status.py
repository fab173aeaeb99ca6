"""The outbox's health at a glance, for ``manage.py dengage_status``.

:func:`collect` reads everything in six small queries on the database the
outbox is written to (never a lagging replica), each one served by the
table's indexes where it can be:

* the number of events per status (one ``GROUP BY``);
* the due events: how many, and since when the longest-waiting one has been
  due (``pending`` rows whose ``next_attempt_at`` has come, ``in_flight`` rows
  whose lease expired), from the claim index ``(status, next_attempt_at, id)``;
* the oldest ``pending`` event overall, due or not, from ``(status, created_at)``;
* the last success (the latest ``sent_at``);
* the newest event that carries a delivery error, its text redacted;
* the events sent in the last :data:`WINDOW_HOURS` hours whose answer did not
  have one ``responses``/``campaigns`` entry per event (the sent rows keep
  the note), from ``(status, sent_at)``;

and, from the cache, how many events could not be stored after their
response went out in that window (:mod:`.recording.after_response`).

:func:`problems` turns a snapshot into the reasons the command exits 1.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min
from django.utils import timezone

from . import outbox
from .delivery.redaction import redact
from .models import OutboxEvent
from .recording.after_response import counted_across_processes, lost_since

Status = OutboxEvent.Status

#: Statuses whose ``last_error`` describes a delivery failure (``invalid``
#: rows hold validation errors instead, and are counted on their own).
ERROR_STATUSES = (Status.PENDING, Status.IN_FLIGHT, Status.DEAD)
#: The longest error text shown, after redaction.
MAX_ERROR_LENGTH = 500
#: How far back mismatched answers and events lost after their response
#: are counted.
WINDOW_HOURS = 24


@dataclass
class LastError:
    event_id: int
    status: str
    error: str


@dataclass
class OutboxStatus:
    """One snapshot of the outbox."""

    now: datetime
    counts: dict
    #: Events a worker could claim right now.
    due: int
    #: Since when the longest-waiting due event has been due (``None``: none due).
    oldest_due_at: datetime | None
    #: When the oldest ``pending`` event was recorded, due or not.
    oldest_pending_at: datetime | None
    last_sent_at: datetime | None
    last_error: LastError | None
    #: Events sent in the last :data:`WINDOW_HOURS` hours in a request whose
    #: answer had not one ``responses``/``campaigns`` entry per event.
    mismatched: int = 0
    #: Events lost after their response in the last :data:`WINDOW_HOURS`
    #: hours (``None``: the cache could not be read).
    lost: int | None = 0
    #: Whether ``lost`` counts every process's losses (a shared cache).
    lost_shared: bool = True

    def age(self, moment):
        """Seconds from ``moment`` to this snapshot, ``None`` for ``None``."""
        if moment is None:
            return None
        return max((self.now - moment).total_seconds(), 0.0)

    @property
    def oldest_due_age(self):
        return self.age(self.oldest_due_at)

    @property
    def oldest_pending_age(self):
        return self.age(self.oldest_pending_at)

    @property
    def last_sent_age(self):
        return self.age(self.last_sent_at)

    @property
    def dead(self):
        return self.counts[Status.DEAD]

    @property
    def invalid(self):
        return self.counts[Status.INVALID]

    def as_dict(self):
        """JSON-ready: datetimes in ISO 8601, ages in seconds."""

        def iso(moment):
            return moment.isoformat() if moment else None

        def seconds(value):
            return None if value is None else round(value, 3)

        return {
            "now": iso(self.now),
            "counts": dict(self.counts),
            "due": self.due,
            "dead": self.dead,
            "invalid": self.invalid,
            "oldest_due_at": iso(self.oldest_due_at),
            "oldest_due_age": seconds(self.oldest_due_age),
            "oldest_pending_at": iso(self.oldest_pending_at),
            "oldest_pending_age": seconds(self.oldest_pending_age),
            "last_sent_at": iso(self.last_sent_at),
            "last_sent_age": seconds(self.last_sent_age),
            "mismatched_24h": self.mismatched,
            "lost_after_response_24h": self.lost,
            "lost_counted_across_processes": self.lost_shared,
            "last_error": (
                {
                    "event_id": self.last_error.event_id,
                    "status": self.last_error.status,
                    "error": self.last_error.error,
                }
                if self.last_error
                else None
            ),
        }


def collect(now=None):
    """Read an :class:`OutboxStatus` snapshot."""
    events = outbox.events()
    # What is due is decided on the database's clock, as workers see it.
    due = events.due(now).aggregate(count=Count("id"), since=Min("next_attempt_at"))
    oldest_pending = events.oldest_pending()
    last_sent = events.filter(status=Status.SENT).aggregate(at=Max("sent_at"))["at"]
    now = now or timezone.now()
    mismatched = (
        events.filter(status=Status.SENT, sent_at__gte=now - timedelta(hours=WINDOW_HOURS))
        .exclude(last_error="")
        .count()
    )
    return OutboxStatus(
        now=now,
        counts=outbox.counts(),
        due=due["count"],
        oldest_due_at=due["since"],
        oldest_pending_at=oldest_pending,
        last_sent_at=last_sent,
        last_error=last_error(events),
        mismatched=mismatched,
        lost=lost_since(WINDOW_HOURS),
        lost_shared=counted_across_processes(),
    )


def last_error(events):
    """The newest event (highest id) holding a delivery error, redacted."""
    row = (
        events.filter(status__in=ERROR_STATUSES)
        .exclude(last_error="")
        .order_by("-id")
        .values_list("id", "status", "last_error")
        .first()
    )
    if row is None:
        return None
    event_id, status, error = row
    # Redact before cutting: a cut could split the key and leave part of it.
    error = redact(error)
    if len(error) > MAX_ERROR_LENGTH:
        error = error[: MAX_ERROR_LENGTH - 1] + "…"
    return LastError(event_id=event_id, status=status, error=error)


def problems(snapshot, *, max_age, fail_on_dead=False):
    """Why the outbox is unhealthy (an empty list when it is healthy)."""
    found = []
    age = snapshot.oldest_due_age
    if age is not None and age > max_age:
        found.append(
            f"the oldest due event has waited {format_age(age)}, "
            f"more than {format_age(max_age)}: is send_dengage_outbox running?"
        )
    if fail_on_dead and snapshot.dead:
        found.append(f"{snapshot.dead} dead events (see the admin, or --requeue-dead)")
    return found


def format_age(seconds):
    """A short, readable age: ``45 s``, ``3 min``, ``2 h 5 min``, ``3 d 4 h``
    (negative ages, from clock skew, read ``0 s``). The admin shows it too."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def lines(snapshot):
    """The snapshot as readable lines."""

    def ago(moment, prefix=""):
        if moment is None:
            return "none"
        return f"{prefix}{format_age(snapshot.age(moment))} ago ({moment.isoformat()})"

    width = max(len(status) for status in snapshot.counts)
    out = [f"Dengage outbox at {snapshot.now.isoformat()}"]
    out += [f"  {status:<{width}}  {count}" for status, count in snapshot.counts.items()]
    out.append(f"due now: {snapshot.due}")
    out.append(f"oldest due event: {ago(snapshot.oldest_due_at, 'due ')}")
    out.append(f"oldest pending event: {ago(snapshot.oldest_pending_at, 'recorded ')}")
    last_sent = snapshot.last_sent_at
    out.append(f"last success: {'never' if last_sent is None else ago(last_sent)}")
    window = f"({WINDOW_HOURS} h)"
    out.append(f"sent with an answer not matching the events {window}: {snapshot.mismatched}")
    lost = "unknown (the cache cannot be read)" if snapshot.lost is None else snapshot.lost
    if not snapshot.lost_shared:
        lost = f"{lost} in this process (DENGAGE_FLOOD_CACHE is not shared: see the web logs)"
    out.append(f"events lost after their response {window}: {lost}")
    error = snapshot.last_error
    out.append(
        "last error: none"
        if error is None
        else f"last error: event #{error.event_id} ({error.status}): {error.error}"
    )
    return out
