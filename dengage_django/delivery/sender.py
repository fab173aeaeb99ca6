"""Draining the outbox: claim, send, record the outcome.

:class:`Sender` claims a batch of due events under a lease
(:func:`.outbox.claim`), sends them outside any transaction in requests
bounded by count and bytes, and records what Dengage answered:

* success: the events are ``sent``;
* a configuration error (bad key, origin, URL): every event is given back
  untouched (no attempt counted) and the run stops, so an operator can act;
* a bad event: the request is split in halves until the bad event is alone;
  it goes ``dead`` with the reason, the rest are sent;
* a transient failure (timeouts, connection errors, 408/429/5xx): the events
  tried are due again after an exponential backoff with jitter (at least
  Retry-After), and go ``dead`` after ``DENGAGE_MAX_ATTEMPTS``; events of
  the batch not tried yet are given back untouched.

The lease is renewed before any request that could outlast it; events whose
lease was lost (another worker took them after this one stalled) are dropped
from this worker's hands, never sent by it.
"""

import enum
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django import db

from .. import outbox
from ..conf import dengage_settings
from ..events.validation import encode_event, join_encoded
from .answers import Outcome, describe_configuration
from .client import DengageClient

logger = logging.getLogger(__name__)

#: Stop a run after this many transient failures in a row: the data center
#: is struggling, and pushing more batches at it only burns attempts.
MAX_CONSECUTIVE_FAILURES = 3
#: Seconds kept free at the end of a lease before a request must renew it.
LEASE_MARGIN = 2.0
#: A looping sender purges old sent events this often (seconds).
PURGE_EVERY = 600.0
#: One claim takes this many requests' worth of events: a claim is a
#: committed transaction, so taking ten batches at once pays for it once per
#: ten requests (``bench/drain.py`` measures it). Each request is still
#: marked sent on its own answer, a stop is honoured between requests, and
#: the lease is renewed before any request that could outlast it.
REQUESTS_PER_CLAIM = 10
#: A looping sender waits at most this long (seconds) between tries while
#: the database keeps failing.
DATABASE_ERROR_MAX_PAUSE = 60.0


@dataclass
class DrainReport:
    """What one or more runs did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    requests: int = 0
    configuration_error: str = ""
    #: Seconds the data center asked us to wait (Retry-After), if any.
    pause: float = 0.0
    errors: list = field(default_factory=list)

    @property
    def processed(self):
        return self.sent + self.retrying + self.dead

    def merge(self, other):
        """Add ``other`` (a later run) to this report: counts add up, the
        latest configuration error and the longest pause asked for stay."""
        self.sent += other.sent
        self.retrying += other.retrying
        self.dead += other.dead
        self.requests += other.requests
        self.configuration_error = other.configuration_error or self.configuration_error
        self.pause = max(self.pause, other.pause)
        self.errors = (self.errors + other.errors)[-10:]


class Next(enum.Enum):
    """What the sender does after a chunk of events is settled."""

    #: Every event of the chunk has its outcome (sent, or dead alone): go on.
    GO_ON = "go on"
    #: A configuration error: the events were given back; stop the run.
    STOP = "stop"
    #: A transient failure: the events wait their backoff; so does the rest.
    BACK_OFF = "back off"


def backoff_delay(attempt, *, base, cap, rng=random):
    """Seconds before try ``attempt + 1``: exponential, capped, jittered.

    Half the delay is fixed and half random ("equal jitter"), so workers
    that failed together do not come back together.
    """
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return delay / 2 + rng.uniform(0, delay / 2)


def _ids(chunks):
    """The event ids in a list of chunks (each a list of :class:`_Item`)."""
    return [item.id for chunk in chunks for item in chunk]


@dataclass
class _Item:
    id: int
    attempts: int
    body: bytes


class _Lease:
    """The ids one claim holds, and when they were last renewed."""

    def __init__(self, token, ids, seconds):
        self.token = token
        self.ids = set(ids)
        self.seconds = seconds
        self.renewed = time.monotonic()

    def still_held(self, items, needed):
        """Items still held, renewing first if ``needed`` seconds may not fit."""
        left = self.seconds - (time.monotonic() - self.renewed)
        if left < needed + LEASE_MARGIN:
            self.ids = outbox.renew(self.ids, self.token, lease_seconds=self.seconds)
            self.renewed = time.monotonic()
        lost = [item.id for item in items if item.id not in self.ids]
        if lost:
            logger.warning("lease lost on %d events (another worker took them)", len(lost))
        return [item for item in items if item.id in self.ids]


class Sender:
    """Drains the outbox to one Dengage data center."""

    def __init__(
        self,
        client=None,
        *,
        batch_size=None,
        max_bytes=None,
        lease_seconds=None,
        max_attempts=None,
        stop_event=None,
        on_progress=None,
        rng=None,
    ):
        self.client = client or DengageClient.from_settings()
        self.batch_size = batch_size or dengage_settings.BATCH_SIZE
        self.max_bytes = max_bytes or dengage_settings.BATCH_MAX_BYTES
        self.lease_seconds = lease_seconds or dengage_settings.LEASE_SECONDS
        self.max_attempts = max_attempts or dengage_settings.MAX_ATTEMPTS
        self.stop_event = stop_event or threading.Event()
        self.on_progress = on_progress
        self.rng = rng or random.Random()
        connect, read = self.client.timeout
        self.request_seconds = connect + read
        self._purged_at = None

    # -- runs ---------------------------------------------------------------

    def drain(self, limit=None):
        """Send due events until none is due, ``limit`` is reached, a stop is
        requested, a configuration error occurs or the data center keeps
        failing. Returns a :class:`DrainReport`."""
        report = DrainReport()
        failures_in_row = 0
        while not self.stop_event.is_set():
            wanted = self.batch_size * REQUESTS_PER_CLAIM
            if limit is not None:
                wanted = min(wanted, limit - report.processed)
            if wanted <= 0:
                break
            token, claimed = outbox.claim(wanted, lease_seconds=self.lease_seconds)
            if not claimed:
                break
            after = self._deliver(token, claimed, report)
            if self.on_progress:
                self.on_progress(report)
            if after is Next.STOP or report.pause:
                break
            failures_in_row = failures_in_row + 1 if after is Next.BACK_OFF else 0
            if failures_in_row >= MAX_CONSECUTIVE_FAILURES:
                break
        return report

    def purge(self, *, force=False):
        """Delete sent events older than ``DENGAGE_RETENTION_DAYS`` (at most
        every :data:`PURGE_EVERY` seconds unless ``force``); returns how many."""
        days = dengage_settings.RETENTION_DAYS
        now = time.monotonic()
        if not days or (
            not force and self._purged_at is not None and now - self._purged_at < PURGE_EVERY
        ):
            return 0
        self._purged_at = now
        deleted = outbox.purge_sent(days)
        if deleted:
            logger.info("purged %d sent events older than %d days", deleted, days)
        return deleted

    def loop(self, *, interval, limit=None, on_report=None):
        """Drain, sleep ``interval`` seconds, repeat until stopped.

        A configuration error pauses sending for
        ``DENGAGE_CONFIGURATION_ERROR_PAUSE`` seconds instead of ending the
        loop: once an operator fixes the account, sending resumes by itself.
        A database error (a restart, a failover, a lock held too long) is
        logged and the loop waits ``interval``, doubling up to
        :data:`DATABASE_ERROR_MAX_PAUSE` while the errors go on, then carries
        on with a new connection: rows it held come back when their lease
        runs out.
        """
        total = DrainReport()
        database_errors = 0
        connection = db.connections[outbox.db_alias()]
        while not self.stop_event.is_set():
            try:
                self.purge()
                report = self.drain(None if limit is None else limit - total.processed)
            except db.Error as exc:  # any database error, InterfaceError included
                if connection.in_atomic_block:
                    raise  # the caller's transaction is broken: theirs to handle
                database_errors += 1
                pause = min(DATABASE_ERROR_MAX_PAUSE, interval * 2 ** min(database_errors - 1, 16))
                logger.error(
                    "database error, sending paused for %.1f s: %s: %s",
                    pause,
                    type(exc).__name__,
                    exc,
                    exc_info=database_errors == 1,  # the first of a run: with its traceback
                )
                # A connection the server dropped is useless: reconnect next time.
                connection.close_if_unusable_or_obsolete()
                self.stop_event.wait(pause)
                continue
            database_errors = 0
            total.merge(report)
            if on_report:
                on_report(report)
            if limit is not None and total.processed >= limit:
                break
            pause = interval
            if report.configuration_error:
                pause = max(interval, dengage_settings.CONFIGURATION_ERROR_PAUSE)
            elif report.pause:
                pause = max(interval, report.pause)
            elif report.processed and not report.retrying:
                pause = 0  # more may be due right away
            self.stop_event.wait(pause)
        return total

    # -- one claim ----------------------------------------------------------

    def _deliver(self, token, claimed, report):
        """Send one claim's events chunk by chunk; what to do next."""
        lease = _Lease(token, (event.id for event in claimed), self.lease_seconds)
        chunks = self._chunks([_Item(e.id, e.attempts, encode_event(e.payload)) for e in claimed])
        after = Next.GO_ON
        for index, chunk in enumerate(chunks):
            if index and self.stop_event.is_set():
                # Stopping: the request in flight is done; the rest go back.
                outbox.release(_ids(chunks[index:]), token)
                break
            after = self._send(lease, chunk, report)
            if after is not Next.GO_ON:
                delay = report.pause if after is Next.BACK_OFF else 0
                outbox.release(_ids(chunks[index + 1 :]), token, delay_seconds=delay)
                break
        return after

    def _chunks(self, items):
        """Split items into requests of at most ``batch_size`` events and
        ``max_bytes`` bytes."""
        chunks, current, size = [], [], 2
        for item in items:
            extra = len(item.body) + 1
            if current and (size + extra > self.max_bytes or len(current) >= self.batch_size):
                chunks.append(current)
                current, size = [], 2
            current.append(item)
            size += extra
        if current:
            chunks.append(current)
        return chunks

    def _send(self, lease, items, report):
        """One request for ``items`` (those still held), then its outcome
        recorded; a bad event among them is isolated (:meth:`_isolate`)."""
        items = lease.still_held(items, self.request_seconds)
        if not items:
            return Next.GO_ON
        answer = self._post(items, report)
        if answer.outcome is Outcome.BAD_EVENT:
            return self._isolate(lease, items, answer, report)
        return self._settle(lease.token, items, answer, report)

    def _post(self, items, report):
        """The HTTP request alone: Dengage's classified answer."""
        report.requests += 1
        return self.client.send(join_encoded(item.body for item in items))

    def _settle(self, token, items, answer, report):
        """Record a success, a configuration error or a transient failure."""
        ids = [item.id for item in items]
        if answer.outcome is Outcome.SUCCESS:
            report.sent += outbox.mark_sent(ids, token, sender=Sender)
            return Next.GO_ON
        if answer.outcome is Outcome.CONFIGURATION:
            message = describe_configuration(answer)
            report.configuration_error = message
            outbox.release(ids, token, error=message)
            logger.error("Dengage refused the configuration, sending stopped: %s", message)
            return Next.STOP
        self._retry(token, items, answer, report)
        return Next.BACK_OFF

    def _isolate(self, lease, items, answer, report):
        """Dengage called the request bad: an event alone goes dead; more
        are split in halves, each sent again, until the bad ones are alone."""
        if len(items) == 1:
            reason = f"rejected: {answer.reason}"
            report.dead += outbox.mark_dead([items[0].id], lease.token, reason, sender=Sender)
            logger.warning("event %s rejected by Dengage: %s", items[0].id, answer.reason)
            return Next.GO_ON
        middle = len(items) // 2
        halves = [items[:middle], items[middle:]]
        for index, half in enumerate(halves):
            after = self._send(lease, half, report)
            if after is not Next.GO_ON:
                outbox.release(_ids(halves[index + 1 :]), lease.token, delay_seconds=report.pause)
                return after
        return Next.GO_ON

    def _retry(self, token, items, answer, report):
        report.errors.append(answer.reason)
        report.pause = answer.retry_after or 0.0
        logger.info("Dengage send failed, will retry: %s", answer.reason)
        by_attempts = {}
        for item in items:
            by_attempts.setdefault(item.attempts + 1, []).append(item.id)
        for attempt, ids in by_attempts.items():
            if attempt >= self.max_attempts:
                error = f"gave up after {attempt} attempts: {answer.reason}"
                report.dead += outbox.mark_dead(ids, token, error, sender=Sender)
                continue
            delay = backoff_delay(
                attempt,
                base=dengage_settings.RETRY_BASE_DELAY,
                cap=dengage_settings.RETRY_MAX_DELAY,
                rng=self.rng,
            )
            delay = max(delay, answer.retry_after or 0.0)
            report.retrying += outbox.mark_retry(
                ids, token, answer.reason, delay_seconds=delay, sender=Sender
            )


def preview(limit):
    """Due events, without claiming them (for ``--dry-run``)."""
    return list(
        outbox.events()
        .due()
        .order_by("next_attempt_at", "id")
        .values_list("id", "name", "payload")[:limit]
    )
