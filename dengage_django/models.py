from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connections, models, router
from django.db.models import ExpressionWrapper, Min, Value
from django.db.models.functions import Now
from django.utils import timezone

if TYPE_CHECKING:
    from collections.abc import Iterable


class DatabaseNow(Now):
    """The database server's clock, in UTC: what lease and retry times are
    computed from and compared with, so that workers on machines whose
    clocks disagree still agree on when a lease runs out.

    Django's :class:`~django.db.models.functions.Now` gives MySQL's and
    MariaDB's ``CURRENT_TIMESTAMP(6)``, which is in the session's time zone
    (the server's, unless set): with ``USE_TZ`` Django stores UTC there, so
    this asks for ``UTC_TIMESTAMP(6)``. PostgreSQL's is
    ``STATEMENT_TIMESTAMP()`` (a ``timestamptz``).
    """

    def as_mysql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="UTC_TIMESTAMP(6)", **extra_context)


def clock(
    now: datetime | None = None, *, plus: float = 0.0, using: str | None = None
) -> DatabaseNow | ExpressionWrapper | Value:
    """The time ``plus`` seconds from now, for a query on database ``using``
    (default: the outbox's): the database server's clock
    (:class:`DatabaseNow`), or ``now`` if given.

    SQLite's clock is the clock of the machine its file is on, which every
    worker shares: it is read here, as the operating system's UTC time
    (never ``timezone.now()``, which tests and tools may shift), and goes
    in the query as a value, sparing Django's SQLite date arithmetic (a
    Python function called for every row). Without ``USE_TZ`` stored times
    are local wall-clock times no database clock gives: this process's
    clock is used.
    """
    if now is None and settings.USE_TZ:
        vendor = connections[using or router.db_for_write(OutboxEvent)].vendor
        if vendor == "sqlite":
            now = datetime.now(dt_timezone.utc)
        elif not plus:
            return DatabaseNow()
        else:
            return ExpressionWrapper(
                DatabaseNow() + Value(timedelta(seconds=plus)),
                output_field=models.DateTimeField(),
            )
    return Value(
        (now or timezone.now()) + timedelta(seconds=plus), output_field=models.DateTimeField()
    )


class OutboxEventQuerySet(models.QuerySet):
    """Questions about outbox rows. Changing a row's status is
    :mod:`dengage_django.outbox`'s job alone (it also sends the signals)."""

    def due(self, now: datetime | None = None) -> OutboxEventQuerySet:
        """Rows a worker may claim now: ``pending`` ones whose retry time
        has come and ``in_flight`` ones whose lease ran out (for both,
        ``next_attempt_at`` says when). "Now" is the database's clock
        unless ``now`` is given (:func:`clock`)."""
        return self.filter(
            status__in=OutboxEvent.CLAIMABLE, next_attempt_at__lte=clock(now, using=self.db)
        )

    def held_by(self, token: str, ids: Iterable[int] | None = None) -> OutboxEventQuerySet:
        """Rows still in flight under lease ``token`` (among ``ids``)."""
        rows = self.filter(status=OutboxEvent.Status.IN_FLIGHT, lease_owner=token)
        return rows if ids is None else rows.filter(id__in=list(ids))

    def oldest_pending(self) -> datetime | None:
        """``created_at`` of the oldest ``pending`` row, due or not; ``None``
        when there is none (served by the ``(status, created_at)`` index)."""
        return self.filter(status=OutboxEvent.Status.PENDING).aggregate(at=Min("created_at"))["at"]


class OutboxEvent(models.Model):
    """One event on its way to Dengage.

    Rows are written in the caller's transaction (see :mod:`.outbox`) and
    moved through their states by the sender (:mod:`.delivery`):

    ``pending`` -> ``in_flight`` (claimed, under a lease) -> ``sent``;
    a failed try goes back to ``pending`` with a later ``next_attempt_at``,
    and to ``dead`` when Dengage rejects the event or its attempts run out.
    ``invalid`` rows failed validation and never reach the wire.

    While a row is ``in_flight``, ``next_attempt_at`` holds the lease expiry:
    one indexed column says when any open row becomes claimable.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        IN_FLIGHT = "in_flight", "in flight"
        SENT = "sent", "sent"
        DEAD = "dead", "dead"
        INVALID = "invalid", "invalid"

    #: Statuses a worker may claim (``in_flight`` once its lease expired).
    CLAIMABLE = (Status.IN_FLIGHT, Status.PENDING)

    name = models.CharField(max_length=32)
    payload = models.JSONField(
        help_text="The event as sent to Dengage (or the raw input, if invalid)."
    )
    user_id = models.CharField(
        "userId", max_length=128, blank=True, help_text="The Dengage userId, for searching."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxEventQuerySet.as_manager()

    class Meta:
        verbose_name = "outbox event"
        verbose_name_plural = "outbox events"
        indexes = [
            # Claiming reads one status at a time in next_attempt_at order:
            # an index range scan that never touches sent rows.
            models.Index(
                fields=["status", "next_attempt_at", "id"], name="dengage_outbox_claim_idx"
            ),
            # Purging old sent rows, and the admin's date ordering.
            models.Index(fields=["status", "created_at"], name="dengage_outbox_age_idx"),
            # dengage_status's "last success" without reading every sent row.
            models.Index(fields=["status", "sent_at"], name="dengage_outbox_sent_idx"),
            # One visitor's rows in recorded order: the claim's check that no
            # earlier event of the same userId is still waiting (and the
            # admin's search by userId). Its columns never change once a row
            # is written: claiming, retrying and sending leave it alone.
            models.Index(fields=["user_id", "id"], name="dengage_outbox_user_idx"),
            # The oldest open row, where the claim's check starts reading.
            models.Index(fields=["status", "id"], name="dengage_outbox_open_idx"),
        ]

    def __str__(self):
        return f"{self.name} #{self.pk} ({self.status})"


class DengageIdentity(models.Model):
    """Who an auth user is at Dengage, for events about them.

    ``dengage_user_id`` is the visitor id the user was linked to at sign-up
    or sign-in (blank until then), so events about the user recorded away
    from their browser (a staff edit, a payment webhook, a task) carry it.
    ``session_id`` is the session those events share while they keep
    coming (one per ``DENGAGE_SESSION_TIMEOUT`` of quiet, not one per
    event). ``consent`` is what the user's last tracked request decided
    (``None``: never seen), the default answer of ``DENGAGE_USER_CONSENT``.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dengage_identity"
    )
    dengage_user_id = models.CharField("Dengage userId", max_length=128, blank=True, db_index=True)
    session_id = models.CharField("own sessionId", max_length=128, blank=True)
    session_seen_at = models.DateTimeField(null=True, blank=True)
    consent = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Dengage identity"
        verbose_name_plural = "Dengage identities"

    def __str__(self):
        return f"{self.user_id} -> {self.dengage_user_id or '(not linked)'}"
