"""Draining the outbox: claim, send, record the outcome.

:class:`Sender` claims a batch of due events under a lease
(:func:`.outbox.claim`), sends them outside any transaction in requests
bounded by count and bytes, and records what Dengage answered:

* success: the events are ``sent``;
* a configuration error (bad key, origin, URL): every event is given back
  untouched (no attempt counted) and the run stops, so an operator can act;
* a bad event: the request is split in halves until the bad event is alone;
  it goes ``dead`` with the reason once another request of the run
  succeeds, the rest are sent. When events keep being refused alone and
  nothing succeeds (:data:`REJECTED_ALONE_LIMIT` in a row, or a run that
  ends with nothing accepted) the data center, or a proxy before it, is
  refusing everything: the run stops like on a configuration error, every
  event kept (a circuit breaker: one such run once killed a whole backlog);
* a transient failure (timeouts, connection errors, 408/429/5xx): the events
  tried are due again after an exponential backoff with jitter (at least
  Retry-After), and go ``dead`` after ``DENGAGE_MAX_ATTEMPTS``; events of
  the batch not tried yet are given back untouched, those of the failed
  events' visitors with the same delay (one visitor's events keep their
  order: see :mod:`.outbox`).

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
#: A looping sender purges old sent, dead and invalid events this often
#: (seconds).
PURGE_EVERY = 600.0
#: Events refused alone as bad, in a row with no request succeeding in
#: between, after which the sender probes (:data:`PROBES`) before going on.
#: Three cost about ten requests for a refused backlog (bisecting a request
#: of 100 events).
REJECTED_ALONE_LIMIT = 3
#: Events of the claim, spread over it, each sent alone once
#: :data:`REJECTED_ALONE_LIMIT` is reached: one accepted shows the data
#: center takes events (the refused ones are bad: dead); all refused, and
#: the data center (or a proxy) is refusing everything: the run stops with
#: every event kept.
PROBES = 3
#: ``DENGAGE_*`` retention setting of each status a sender purges.
RETENTION = (
    ("RETENTION_DAYS", "sent"),
    ("DEAD_RETENTION_DAYS", "dead"),
    ("INVALID_RETENTION_DAYS", "invalid"),
)
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
    #: Events sent in a request whose answer did not have one
    #: ``responses``/``campaigns`` entry per event (taken all the same).
    mismatched: int = 0
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
        self.mismatched += other.mismatched
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
    user_id: str = ""


class _Lease:
    """The ids one claim holds, and when they were last renewed; what its
    requests found so far: events refused alone (``suspects``, with the
    answer) since the last success, and the backoff (seconds) given to each
    visitor's failed events (``waits``)."""

    def __init__(self, token, ids, seconds):
        self.token = token
        self.ids = set(ids)
        self.seconds = seconds
        self.renewed = time.monotonic()
        self.suspects = []
        self.waits = {}
        #: The claim's items in id order, and the ids with an outcome (sent,
        #: dead, retrying, given back, refused alone, or sent as a probe).
        self.items = []
        self.settled = set()

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

    def drain(self, limit=None, *, short_claim_ends=False):
        """Send due events until none is due, ``limit`` is reached, a stop is
        requested, a configuration error occurs or the data center keeps
        failing. Returns a :class:`DrainReport`.

        ``short_claim_ends`` (the loop's): a claim that got fewer events than
        it asked for, all sent, ends the run. The loop is caught up then, and
        what arrives meanwhile waits for its next run, in a batch, instead
        of a claim and a request for every new event (a visitor's event held
        back behind one of that claim waits too).
        """
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
            if short_claim_ends and after is Next.GO_ON and len(claimed) < wanted:
                break
            failures_in_row = failures_in_row + 1 if after is Next.BACK_OFF else 0
            if failures_in_row >= MAX_CONSECUTIVE_FAILURES:
                break
        return report

    def purge(self, *, force=False):
        """Delete sent, dead and invalid events older than
        ``DENGAGE_RETENTION_DAYS``, ``DENGAGE_DEAD_RETENTION_DAYS`` and
        ``DENGAGE_INVALID_RETENTION_DAYS`` (``None``: kept), at most every
        :data:`PURGE_EVERY` seconds unless ``force``; returns how many."""
        retention = [
            (status, days)
            for setting, status in RETENTION
            if (days := getattr(dengage_settings, setting))
        ]
        now = time.monotonic()
        if not retention or (
            not force and self._purged_at is not None and now - self._purged_at < PURGE_EVERY
        ):
            return 0
        self._purged_at = now
        deleted = 0
        for status, days in retention:
            count = outbox.purge(status, days)
            if count:
                logger.info("purged %d %s events older than %s days", count, status, days)
            deleted += count
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
                report = self.drain(
                    None if limit is None else limit - total.processed, short_claim_ends=True
                )
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
            self.stop_event.wait(pause)
        return total

    # -- one claim ----------------------------------------------------------

    def _deliver(self, token, claimed, report):
        """Send one claim's events chunk by chunk; what to do next."""
        lease = _Lease(token, (event.id for event in claimed), self.lease_seconds)
        items = [_Item(e.id, e.attempts, encode_event(e.payload), e.user_id) for e in claimed]
        lease.items = items
        chunks = self._chunks(items)
        after = Next.GO_ON
        for index, chunk in enumerate(chunks):
            if index and self.stop_event.is_set():
                # Stopping: the request in flight is done; the rest go back.
                outbox.release(_ids(chunks[index:]), token)
                break
            after = self._send(lease, chunk, report)
            if after is not Next.GO_ON:
                self._give_back(lease, [i for c in chunks[index + 1 :] for i in c], after, report)
                break
        if lease.suspects:
            after = self._judge_suspects(lease, after, report)
        return after

    def _give_back(self, lease, items, after, report):
        """Release untried ``items``: after a transient failure, a visitor's
        events no sooner than that visitor's failed ones, the others after
        Retry-After (if any); at once otherwise."""
        base = report.pause if after is Next.BACK_OFF else 0.0
        by_delay = {}
        for item in items:
            delay = max(base, lease.waits.get(item.user_id, 0.0)) if item.user_id else base
            by_delay.setdefault(delay, []).append(item.id)
        for delay, ids in by_delay.items():
            outbox.release(ids, lease.token, delay_seconds=delay)

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
        recorded; a bad event among them is isolated (:meth:`_isolate`).
        Events already settled (a probe's) are left out."""
        items = [item for item in items if item.id not in lease.settled]
        items = lease.still_held(items, self.request_seconds)
        if not items:
            return Next.GO_ON
        answer = self._post(items, report)
        if answer.outcome is Outcome.BAD_EVENT:
            return self._isolate(lease, items, answer, report)
        return self._settle(lease, items, answer, report)

    def _post(self, items, report):
        """The HTTP request alone: Dengage's classified answer."""
        report.requests += 1
        return self.client.send(join_encoded(item.body for item in items), count=len(items))

    def _settle(self, lease, items, answer, report):
        """Record a success, a configuration error or a transient failure."""
        ids = [item.id for item in items]
        lease.settled.update(ids)
        if answer.outcome is Outcome.SUCCESS:
            note = f"answer mismatch: {answer.mismatch}" if answer.mismatch else ""
            sent = outbox.mark_sent(ids, lease.token, note=note, sender=Sender)
            report.sent += sent
            if note:
                report.mismatched += sent
            if lease.suspects:
                self._kill_suspects(lease, report)  # the data center takes events
            return Next.GO_ON
        if answer.outcome is Outcome.CONFIGURATION:
            message = describe_configuration(answer)
            report.configuration_error = message
            outbox.release(ids, lease.token, error=message)
            logger.error("Dengage refused the configuration, sending stopped: %s", message)
            return Next.STOP
        self._retry(lease, items, answer, report)
        return Next.BACK_OFF

    def _isolate(self, lease, items, answer, report):
        """Dengage called the request bad: more events are split in halves,
        each sent again, until the bad ones are alone; an event alone is a
        suspect, dead once a request succeeds (:meth:`_judge_suspects`)."""
        if len(items) == 1:
            lease.suspects.append((items[0], answer))
            lease.settled.add(items[0].id)
            if len(lease.suspects) >= REJECTED_ALONE_LIMIT:
                return self._probe(lease, report)
            return Next.GO_ON
        middle = len(items) // 2
        halves = [items[:middle], items[middle:]]
        for index, half in enumerate(halves):
            after = self._send(lease, half, report)
            if after is not Next.GO_ON:
                self._give_back(lease, [i for h in halves[index + 1 :] for i in h], after, report)
                return after
        return Next.GO_ON

    def _probe(self, lease, report):
        """Events refused alone keep coming and nothing was accepted since:
        send up to :data:`PROBES` other events of the claim alone, spread
        over it. One accepted: the refused events are bad (dead) and
        isolation goes on. All refused: the circuit breaker
        (:meth:`_refused_everything`). Nothing left to probe with: what the
        run saw decides (something accepted earlier: the refused events are
        bad). A probe is only ever the visitor's earliest unsettled event of
        the claim, so it overtakes nothing."""
        probes = self._probe_items(lease)
        if not probes and report.sent:
            self._kill_suspects(lease, report)
            return Next.GO_ON
        for item in probes:
            lease.settled.add(item.id)
            held = lease.still_held([item], self.request_seconds)
            if not held:
                continue
            answer = self._post(held, report)
            if answer.outcome is Outcome.BAD_EVENT:
                lease.suspects.append((item, answer))
                continue
            return self._settle(lease, held, answer, report)
        return self._refused_everything(lease, report)

    @staticmethod
    def _probe_items(lease):
        """Up to :data:`PROBES` unsettled items, spread over the claim, each
        its visitor's earliest unsettled one, of a visitor with no suspect."""
        blocked = {item.user_id for item, _answer in lease.suspects if item.user_id}
        eligible = []
        for item in lease.items:
            if item.id in lease.settled:
                continue
            if not item.user_id or item.user_id not in blocked:
                eligible.append(item)
            if item.user_id:
                blocked.add(item.user_id)
        if len(eligible) <= PROBES:
            return eligible
        step = (len(eligible) - 1) / (PROBES - 1)
        return [eligible[round(index * step)] for index in range(PROBES)]

    def _kill_suspects(self, lease, report):
        """The events refused alone are bad: dead, each with its reason."""
        for item, answer in lease.suspects:
            reason = f"rejected: {answer.reason}"
            report.dead += outbox.mark_dead([item.id], lease.token, reason, sender=Sender)
            logger.warning("event %s rejected by Dengage: %s", item.id, answer.reason)
        lease.suspects = []

    def _judge_suspects(self, lease, after, report):
        """At the end of a claim, events refused alone and not yet judged:
        dead if anything was accepted in this run; otherwise nothing says
        the data center takes any event, so they are kept."""
        if report.sent:
            self._kill_suspects(lease, report)
            return after
        if after is Next.GO_ON and not self.stop_event.is_set():
            return self._refused_everything(lease, report)
        outbox.release([item.id for item, _answer in lease.suspects], lease.token)
        lease.suspects = []
        return after

    def _refused_everything(self, lease, report):
        """The circuit breaker: every event tried alone was refused as bad
        and nothing was accepted since; stop, keep every event (the rest of
        the claim is given back by the callers), report it like a
        configuration error (the command exits non-zero)."""
        suspects = lease.suspects
        reason = suspects[-1][1].reason
        refused = ", ".join(f"#{item.id}" for item, _answer in suspects)
        message = (
            f"every request was rejected as bad input ({reason}; event"
            f"{'s' if len(suspects) > 1 else ''} {refused} refused alone, none accepted): the "
            "data center may have changed its API or a proxy mangles request bodies; events "
            "kept (if those events are really bad, mark them dead in the admin)"
        )
        report.configuration_error = message
        outbox.release([item.id for item, _answer in suspects], lease.token, error=message)
        lease.suspects = []
        logger.error("sending stopped: %s", message)
        return Next.STOP

    def _retry(self, lease, items, answer, report):
        report.errors.append(answer.reason)
        report.pause = answer.retry_after or 0.0
        logger.info("Dengage send failed, will retry: %s", answer.reason)
        by_attempts = {}
        for item in items:
            by_attempts.setdefault(item.attempts + 1, []).append(item)
        for attempt, tried in by_attempts.items():
            ids = [item.id for item in tried]
            if attempt >= self.max_attempts:
                error = f"gave up after {attempt} attempts: {answer.reason}"
                report.dead += outbox.mark_dead(ids, lease.token, error, sender=Sender)
                continue
            delay = backoff_delay(
                attempt,
                base=dengage_settings.RETRY_BASE_DELAY,
                cap=dengage_settings.RETRY_MAX_DELAY,
                rng=self.rng,
            )
            delay = max(delay, answer.retry_after or 0.0)
            report.retrying += outbox.mark_retry(
                ids, lease.token, answer.reason, delay_seconds=delay, sender=Sender
            )
            for item in tried:
                if item.user_id:
                    lease.waits[item.user_id] = max(delay, lease.waits.get(item.user_id, 0.0))


def preview(limit):
    """Due events, without claiming them (for ``--dry-run``)."""
    return list(
        outbox.events()
        .due()
        .order_by("next_attempt_at", "id")
        .values_list("id", "name", "payload")[:limit]
    )
