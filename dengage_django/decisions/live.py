"""Live sends: a request's events POSTed while its page renders, with a
deadline, and Dengage's decisions read from the answer
(``request.dengage.decide()``).

Exactly once, whatever the call does. The events go through the outbox
first: the visitor's earlier events still waiting there are taken under a
lease (:func:`.outbox.claim_visitor`; they go first, so nothing overtakes
them), the request's new events are stored in flight under the same lease
(:func:`.outbox.record_leased`), then one POST carries them all. A success
marks them sent. A failure or an answer later than ``DENGAGE_LIVE_TIMEOUT``
gives them back untried, and the sender delivers them; a late answer the
data center did take is then sent twice, the same duplicate window a
sender's timed-out request has.

No live call is made (the request's events stay with it, stored after the
response as usual) when the request is not tracked, dengage-django is not
configured, the request is inside a transaction of its own (an
``ATOMIC_REQUESTS`` view's, say: the rows would only be visible once it
commits), one of the visitor's earlier events is backing off or in flight
(sending now would overtake it), or the circuit is open:

* :data:`CIRCUIT_FAILURES` failed calls in a row (late, refused, an
  outage) open it for :data:`CIRCUIT_OPEN_SECONDS`: an outage adds no
  latency to pages;
* a configuration answer (a wrong key, origin or URL) opens it for
  ``DENGAGE_CONFIGURATION_ERROR_PAUSE`` seconds.

The circuit is per process: each server worker finds out for itself.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from .. import outbox
from ..conf import dengage_settings
from ..delivery.answers import Outcome
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
#: Added to the deadline for the lease of events sent live: a lease only
#: ends sooner if the process dies mid-call, and then the sender takes over.
LEASE_MARGIN = 60.0

_lock = threading.Lock()
_failures = 0
_open_until = 0.0
_open_reason = ""
_clients = threading.local()


def _now() -> float:
    return time.monotonic()


def reset() -> None:
    """Close the circuit and forget the failures (tests, a settings change)."""
    global _failures, _open_until, _open_reason
    with _lock:
        _failures, _open_until, _open_reason = 0, 0.0, ""


def _closed() -> str:
    """``""`` when live calls may be made, else why not."""
    with _lock:
        if _now() < _open_until:
            return _open_reason
    return ""


def _record(outcome: Outcome, reason: str) -> None:
    global _failures, _open_until, _open_reason
    with _lock:
        if outcome is Outcome.SUCCESS:
            _failures = 0
            return
        if outcome is Outcome.CONFIGURATION:
            pause = float(dengage_settings.CONFIGURATION_ERROR_PAUSE)
            _open_until, _open_reason = _now() + pause, f"circuit open: configuration: {reason}"
            logger.error("Dengage refused a live call (%s): no live calls for %g s", reason, pause)
            return
        _failures += 1
        if _failures >= CIRCUIT_FAILURES:
            _failures = 0
            _open_until = _now() + CIRCUIT_OPEN_SECONDS
            _open_reason = f"circuit open after {CIRCUIT_FAILURES} failed live calls"
            logger.warning(
                "%d live calls to Dengage failed in a row (last: %s): none for %g s",
                CIRCUIT_FAILURES,
                reason,
                CIRCUIT_OPEN_SECONDS,
            )


def _client() -> DengageClient | None:
    """This thread's client for live calls (its connections kept alive),
    built again when the settings change; ``None`` when not configured."""
    key = (
        dengage_settings.API_KEY,
        dengage_settings.DATA_CENTER_URL,
        dengage_settings.ORIGIN,
        dengage_settings.LIVE_TIMEOUT,
    )
    if not all(key[:3]):
        return None
    cached = getattr(_clients, "value", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    if cached is not None:
        cached[1].close()
    timeout = float(dengage_settings.LIVE_TIMEOUT)
    client = DengageClient(
        api_key=key[0],
        data_center_url=key[1],
        origin=key[2],
        timeout=timeout,
        connect_timeout=timeout,
    )
    _clients.value = (key, client)
    return client


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
    if not tracker.active:
        return Decisions.empty("not tracked")
    client = _client()
    if client is None:
        return Decisions.empty("not configured (DENGAGE_API_KEY, _DATA_CENTER_URL, _ORIGIN)")
    if tracker.in_own_transaction():
        return Decisions.empty("inside a transaction: the events are sent after it")
    closed = _closed()
    if closed:
        return Decisions.empty(closed)
    if page_view:
        tracker.record_page_view()
    rows = tracker.drop_pending()
    live = [row for row in rows if row.status == OutboxEvent.Status.PENDING]
    others = [row for row in rows if row.status != OutboxEvent.Status.PENDING]
    token = outbox.new_lease_token()
    lease = float(dengage_settings.LIVE_TIMEOUT) * 2 + LEASE_MARGIN
    earlier = outbox.claim_visitor(tracker.user_id, token, lease_seconds=lease)
    if earlier is None or not live:
        tracker.keep_pending(rows)
        if earlier:
            outbox.release([event.id for event in earlier], token)
        why = "an earlier event of the visitor is in flight or backing off: out of order now"
        return Decisions.empty(why if earlier is None else "no event to send")
    try:
        outbox.record_leased(live, token, lease_seconds=lease)
    except Exception:
        # Not stored (record_leased made them pending again): back with the
        # request, stored after the response; the earlier events go back now.
        tracker.keep_pending(rows)
        outbox.release([event.id for event in earlier], token)
        raise
    tracker.keep_pending(others)
    ids = [event.id for event in earlier] + [row.pk for row in live]
    bodies = [encode_event(event.payload) for event in earlier]
    bodies += [encode_event(row.payload) for row in live]
    answer = client.send(join_encoded(bodies), count=len(bodies))
    _record(answer.outcome, answer.reason)
    if not answer.ok:
        outbox.release(ids, token, error=f"live: {answer.reason}")
        logger.info("live call to Dengage failed (%s): the sender delivers them", answer.reason)
        return Decisions.empty(answer.reason)
    outbox.mark_sent(ids, token, note=answer.mismatch or "")
    page = _page_answer(answer.data, len(earlier), len(bodies))
    if page is None:
        return Decisions.empty(answer.mismatch or "the answer does not match the events")
    return decisions_from_answer(page, len(live))
