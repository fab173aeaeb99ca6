"""Live sends: a request's events POSTed while its page renders, with a
deadline, and Dengage's decisions read from the answer
(``request.dengage.decide()``).

Exactly once, whatever the call does. The events go through the outbox
first, in one transaction (:func:`.outbox.lease_for_live`): the visitor's
earlier events still waiting there are taken under a lease (they go first,
so nothing overtakes them) and the request's new events are stored in
flight under the same lease; then one POST carries them all, with what is
left of ``DENGAGE_LIVE_TIMEOUT`` since ``decide()`` began (one limit for
connecting and reading the answer; the database's work counts but is not
interrupted), less what giving up took the last POSTs that ran to their
limit (:data:`MAX_GIVE_UP`). A success marks them sent. A failure, or no
answer in time, gives them back untried after the response
(:meth:`.Tracker.after_response`: the page does not wait), due in
:data:`FAILED_RELEASE_DELAY` seconds, and the sender delivers them; until
then the visitor's pages make no live call. Should the response never
finish, their lease (the deadline plus :data:`LEASE_MARGIN`) runs out and
the sender takes them. A late answer the data center did take is sent
twice, the duplicate window a sender's timed-out request has. When the
deadline is spent before the POST, none is made and the events are given
back due at once. More than ``DENGAGE_BATCH_SIZE`` events for one POST:
none is made.

No live call is made (the request's events stay with it, stored after the
response as usual) when the request is not tracked, dengage-django is not
configured, the request is inside a transaction of its own (an
``ATOMIC_REQUESTS`` view's, say: the rows would only be visible once it
commits), one of the visitor's earlier events is backing off or in flight
(sending now would overtake it), or the circuit is open:

* :data:`CIRCUIT_FAILURES` failed calls in a row (late, refused, an
  outage) open it for :data:`CIRCUIT_OPEN_SECONDS`: an outage adds no
  latency to pages; then one call tests the data center (the others make
  none meanwhile), and a failure opens it again;
* a configuration answer (a wrong key, origin or URL) opens it for
  ``DENGAGE_CONFIGURATION_ERROR_PAUSE`` seconds.

The circuit is per process: each server worker finds out for itself.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from urllib3.util import Timeout

from .. import outbox
from ..conf import dengage_settings
from ..delivery.answers import Answer, Outcome
from ..delivery.client import DengageClient
from ..events.validation import encode_event, join_encoded
from ..models import OutboxEvent
from .widgets import Decisions, decisions_from_answer

if TYPE_CHECKING:
    from ..tracking.tracker import Tracker

logger = logging.getLogger(__name__)

#: Failed live calls in a row that open the circuit, and for how long.
CIRCUIT_FAILURES = 3
CIRCUIT_OPEN_SECONDS = 30.0
#: Added to the deadline for the lease of events sent live: their lease
#: only runs out if the process dies mid-call, or a failed call's response
#: is not finished by then; the sender takes the events over.
LEASE_MARGIN = 60.0
#: Less time than this left of the deadline once the events are stored: no
#: POST (it could only time out, and a data center that took it anyway
#: would get the events twice).
MIN_POST_SECONDS = 0.01
#: How much later than its limit a POST that runs to it returns, learnt
#: from those that did (an average of the last ones), at most this much.
MAX_GIVE_UP = 0.01
#: After a failed or late live call its events are the sender's: they are
#: due again after this many seconds, and until they are sent the visitor's
#: next pages make no live call (a late answer the data center did take
#: would be sent again with every page otherwise).
FAILED_RELEASE_DELAY = 10.0

_lock = threading.Lock()
_failures = 0
_open_until = 0.0
_open_reason = ""
_trial = False  # a call is testing whether the data center is back
_give_up = 0.0  # see MAX_GIVE_UP
#: Idle clients, their connections kept alive; any thread takes one (under
#: ASGI every request runs in a thread of its own).
_idle: queue.LifoQueue[tuple[tuple, DengageClient]] = queue.LifoQueue()


def _now() -> float:
    return time.monotonic()


def reset() -> None:
    """Close the circuit, forget the failures and how late giving up returns
    (tests, a settings change)."""
    global _failures, _open_until, _open_reason, _trial, _give_up
    with _lock:
        _failures, _open_until, _open_reason, _trial = 0, 0.0, "", False
        _give_up = 0.0


def _may_call() -> tuple[str, bool]:
    """``("", trial)`` when a live call may be made, else ``(why not,
    False)``. Once the circuit's pause is over one call, the trial, tests
    the data center; the others wait for it. The trial ends with the call
    (:func:`_end_trial`)."""
    global _trial
    with _lock:
        if not _open_until:
            return "", False
        if _now() < _open_until:
            return _open_reason, False
        if _trial:
            return "circuit half open: a live call is testing the data center", False
        _trial = True
        return "", True


def _end_trial() -> None:
    global _trial
    with _lock:
        _trial = False


def _record(outcome: Outcome, reason: str) -> None:
    global _failures, _open_until, _open_reason
    with _lock:
        # A batch refused for an event in it: the data center is up.
        if outcome in (Outcome.SUCCESS, Outcome.BAD_EVENT):
            _failures, _open_until = 0, 0.0
            return
        if outcome is Outcome.CONFIGURATION:
            pause = float(dengage_settings.CONFIGURATION_ERROR_PAUSE)
            _open_until, _open_reason = _now() + pause, f"circuit open: configuration: {reason}"
            logger.error("Dengage refused a live call (%s): no live calls for %g s", reason, pause)
            return
        _failures += 1
        if _failures >= CIRCUIT_FAILURES or _open_until:  # a failed trial reopens it
            _failures = 0
            _open_until = _now() + CIRCUIT_OPEN_SECONDS
            _open_reason = f"circuit open after {CIRCUIT_FAILURES} failed live calls"
            logger.warning(
                "live calls to Dengage failed (last: %s): none for %g s",
                reason,
                CIRCUIT_OPEN_SECONDS,
            )


def _settings_key() -> tuple:
    return (
        dengage_settings.API_KEY,
        dengage_settings.DATA_CENTER_URL,
        dengage_settings.ORIGIN,
        dengage_settings.LIVE_TIMEOUT,
    )


def _borrow() -> tuple[tuple, DengageClient] | None:
    """``(settings, client)``: an idle client for the current settings (or
    a new one) and the settings it was made with; ``None`` when
    dengage-django is not configured. Give it back with :func:`_return`."""
    key = _settings_key()
    if not all(key[:3]):
        return None
    while True:
        try:
            client_key, client = _idle.get_nowait()
        except queue.Empty:
            break
        if client_key == key:
            return key, client
        client.close()  # the settings changed
    return key, DengageClient(api_key=key[0], data_center_url=key[1], origin=key[2])


def _return(borrowed: tuple[tuple, DengageClient]) -> None:
    # Filed under the settings it was made with: they may have changed.
    _idle.put(borrowed)


def _page_answer(data: Any, earlier: int, total: int) -> Any:
    """The answer as if only the request's own events (after ``earlier``
    events of earlier pages) had been sent; ``None`` when its per-event
    lists do not hold ``total`` entries."""
    if not earlier or not isinstance(data, dict):
        return data
    page = dict(data)
    for name in ("responses", "campaigns"):
        entries = data.get(name)
        if entries is None:
            continue
        if not isinstance(entries, list) or len(entries) != total:
            return None
        page[name] = entries[earlier:]
    return page


def decide(tracker: Tracker, *, page_view: bool = True) -> Decisions:
    """Send ``tracker``'s request's events live and read the decisions (see
    the module docstring); never raises for Dengage's sake."""
    started = time.perf_counter()
    if _open_until and _now() < _open_until:  # first: an outage costs nothing more
        return Decisions.empty(_open_reason)
    if not tracker.active:
        return Decisions.empty("not tracked")
    if not all(_settings_key()[:3]):
        return Decisions.empty("not configured (DENGAGE_API_KEY, _DATA_CENTER_URL, _ORIGIN)")
    if tracker.in_own_transaction():
        return Decisions.empty("inside a transaction: the events are sent after it")
    closed, trial = _may_call()
    if closed:
        return Decisions.empty(closed)
    rows: list = []
    try:
        if page_view and tracker.request.method == "GET":  # as the middleware's
            tracker.record_page_view()
        rows = tracker.drop_pending()
        return _send(tracker, rows, started)
    finally:
        # What is not stored stays with the request, stored after the
        # response as usual (all of it when no live call was made).
        tracker.keep_pending(row for row in rows if row.pk is None)
        if trial:
            _end_trial()


def _send(tracker: Tracker, rows: list, started: float) -> Decisions:
    live = [row for row in rows if row.status == OutboxEvent.Status.PENDING]
    if not live:
        return Decisions.empty("no event to send")
    deadline = float(dengage_settings.LIVE_TIMEOUT)
    token = outbox.new_lease_token()
    taken, refused = outbox.lease_for_live(
        tracker.user_id,
        live,
        token,
        lease_seconds=deadline + LEASE_MARGIN,
        limit=int(dengage_settings.BATCH_SIZE),
    )
    if refused:
        return Decisions.empty(refused)
    ids = [event.id for event in taken] + [row.pk for row in live]
    try:
        bodies = [encode_event(event.payload) for event in taken]
        bodies += [encode_event(row.payload) for row in live]
        borrowed = _borrow()
    except Exception:
        _release_quietly(ids, token)  # nothing was sent
        raise
    if borrowed is None:  # the settings changed meanwhile
        _release_quietly(ids, token)
        return Decisions.empty("not configured")
    # Giving up takes time too (``requests`` prepares the request before
    # its timeout's clock starts and returns after it ends): what the last
    # POSTs that ran to their limit took is kept back, so that decide()
    # returns within the deadline.
    limit = started + deadline - _give_up - time.perf_counter()
    if limit < MIN_POST_SECONDS:
        _return(borrowed)
        # Nothing sent: the events are the sender's, due now; no verdict
        # on the data center.
        tracker.after_response(functools.partial(outbox.release, ids, token))
        return Decisions.empty("late: the deadline was spent before the POST")
    answer = _post(borrowed, join_encoded(bodies), len(bodies), limit)
    _record(answer.outcome, answer.reason)
    if not answer.ok:
        # Given back after the response: the page does not wait for it.
        error = f"live: {answer.reason}"
        tracker.after_response(
            functools.partial(
                outbox.release, ids, token, error=error, delay_seconds=FAILED_RELEASE_DELAY
            )
        )
        logger.info("live call to Dengage failed (%s): the sender delivers them", answer.reason)
        return Decisions.empty(answer.reason)
    # Marked sent before the page goes on: were it left for after the
    # response, a response never finished (a client gone under ASGI) would
    # have the sender send them again.
    outbox.mark_sent(ids, token, note=answer.mismatch or "")
    page = _page_answer(answer.data, len(taken), len(ids))
    if page is None:
        return Decisions.empty(answer.mismatch or "the answer does not match the events")
    return decisions_from_answer(page, len(live))


def _release_quietly(ids: list[int], token: str) -> None:
    try:
        outbox.release(ids, token)
    except Exception:  # the original error is the one to raise
        logger.exception("could not give back live events; the sender takes them after their lease")


def _post(borrowed: tuple[tuple, DengageClient], body: bytes, count: int, limit: float) -> Answer:
    """POST ``body`` (``count`` events) with ``borrowed``'s client, given up
    after ``limit`` seconds (one limit for connecting and reading the
    answer, urllib3's total; DNS resolution is not covered: give the data
    center's name a local resolver cache, or its address); the client goes
    back. Never raises (:meth:`.DengageClient.send`)."""
    global _give_up
    client = borrowed[1]
    client.timeout = Timeout(total=limit)
    started = time.perf_counter()
    try:
        return client.send(body, count=count)
    finally:
        _return(borrowed)
        late = time.perf_counter() - started - limit
        if late > 0:  # it ran to its limit: learn how late giving up returns
            _give_up = min(0.5 * _give_up + 0.5 * late, MAX_GIVE_UP)
