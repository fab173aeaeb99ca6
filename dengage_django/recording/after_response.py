"""Storing a request's events once its response has gone to the client.

The middleware hands the request's deferred events (the PAGE_VIEW and what
the view's helpers recorded outside any transaction) to :func:`store_after`,
which stores them in the response's ``close()``: WSGI servers call it after
the last byte of the body is written, Django's ASGI handler after the last
body message, streaming responses and ``FileResponse`` included, and both
before the worker takes its next request. The page never waits for the
INSERT.

What is traded away: a worker that dies between sending the response and
storing its events (``kill -9``, a crash in that window of about a
millisecond) loses those events. Events recorded inside a transaction are
not deferred (they commit with the caller's work) and are not affected.
The events of a failed live call (:mod:`..decisions.live`) are given back
here too; there the window costs nothing but time: they are in the outbox
already, and the sender takes them once their lease has run out.

Servers close a response in the thread that ran the request's sync code
(WSGI servers; Django's ASGI handler, thread-sensitively), whose database
connection is the request's. Django's ``AsyncClient`` closes it in a thread
of its own, where a test's transaction is invisible (and SQLite's file
locked): so in Django's test environment the async middleware stores before
the response, as :func:`store_after` does with ``now``.

A failure there cannot be raised (the response is gone, and Django's
``close()`` ignores what its closers raise, strict mode included): the
events are tried one by one, and those that still cannot be stored are
logged and counted in the cache named by ``DENGAGE_FLOOD_CACHE`` (shared
between processes, so ``dengage_status`` sees them; with a per-process
cache only the log does) under hourly keys (:func:`lost_since`).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING

from django.core.cache import caches
from django.core.signals import request_finished
from django.dispatch import receiver

from ..conf import dengage_settings
from ..tracking.context import current_tracker
from .store import store_batch

if TYPE_CHECKING:
    from django.http import HttpResponseBase

    from ..models import OutboxEvent
    from ..tracking.tracker import Tracker

logger = logging.getLogger(__name__)

#: Cache keys counting events lost after a response, one per hour.
LOST_KEY_PREFIX = "dengage:lost-after-response:"
HOUR = 3600
#: How long a count is kept (seconds): a day, plus an hour of margin.
LOST_KEY_TIMEOUT = 25 * HOUR


def store_after(tracker: Tracker, response: HttpResponseBase, *, now: bool = False) -> bool:
    """Store ``tracker``'s deferred events when ``response`` is closed (or
    ``now``); returns whether they were left for then (``False``: nothing to
    store, or stored now, as for a response without Django's closers).

    A middleware above this one may answer with another response (a 304 from
    ``ConditionalGetMiddleware``, a redirect): that one is closed instead.
    Every response's ``close()`` sends ``request_finished``, so the tracker
    is also kept for this thread, and :func:`_on_request_finished` stores
    what no closer stored."""
    if not tracker.has_pending():
        return False
    closers = getattr(response, "_resource_closers", None)
    if now or not isinstance(closers, list):
        _store(tracker)
        return False
    _waiting().append(tracker)
    closers.append(functools.partial(_close, tracker))
    return True


_thread = threading.local()


def _waiting() -> list[Tracker]:
    """Trackers of this thread whose events wait for a response's close()."""
    waiting = getattr(_thread, "trackers", None)
    if waiting is None:
        waiting = _thread.trackers = []
    return waiting


@receiver(request_finished, dispatch_uid="dengage_django.after_response")
def _on_request_finished(sender: object, **kwargs: object) -> None:
    """Store what this thread's closed responses did not (the response the
    middleware saw was replaced by another)."""
    waiting = _waiting()
    while waiting:
        _store(waiting.pop(0))


def _close(tracker: Tracker) -> None:
    """The closer: store ``tracker``'s events, after those of this thread's
    earlier requests whose response was never closed (recorded order)."""
    waiting = _waiting()
    if tracker not in waiting:  # closed in another thread
        _store(tracker)
        return
    while waiting:
        earlier = waiting.pop(0)
        _store(earlier)
        if earlier is tracker:
            return


def _store(tracker: Tracker) -> None:
    """Store ``tracker``'s deferred events, never raise; ``event_recorded``
    receivers see the request's tracker as during the request. A failed
    live call's events are given back first (:meth:`.Tracker.settle`)."""
    path = tracker.request.path
    events: list[OutboxEvent] = []
    token = current_tracker.set(tracker)
    try:
        tracker.settle(strict=False)
        events = tracker.drop_pending()
        lost = store_batch(events, strict=False) if events else []
    except Exception:  # store_batch logs database errors; this is anything else
        logger.exception("Dengage events of %s could not be stored after the response", path)
        lost = events
    finally:
        current_tracker.reset(token)
    if lost:
        logger.error(
            "%d Dengage event(s) of %s lost after the response: %s",
            len(lost),
            path,
            ", ".join(event.name for event in lost),
        )
        count_lost(len(lost))


def count_lost(count: int, *, now: float | None = None) -> None:
    """Add ``count`` to this hour's count of events lost after a response."""
    hour = int((time.time() if now is None else now) // HOUR)
    key = f"{LOST_KEY_PREFIX}{hour}"
    try:
        cache = caches[dengage_settings.FLOOD_CACHE]
        if not cache.add(key, count, timeout=LOST_KEY_TIMEOUT):
            cache.incr(key, count)
    except Exception:
        logger.warning("could not count lost Dengage events in the cache", exc_info=True)


#: Cache backends whose counts no other process can read.
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def counted_across_processes() -> bool:
    """Whether the cache counting lost events is shared between processes
    (``dengage_status`` then sees what the web workers counted)."""
    from django.conf import settings

    backend = settings.CACHES.get(dengage_settings.FLOOD_CACHE, {}).get("BACKEND", "")
    return bool(backend) and backend not in PER_PROCESS_CACHES


def lost_since(hours: int = 24, *, now: float | None = None) -> int | None:
    """Events lost after a response in the last ``hours`` hours (this hour
    included), or ``None`` when the cache cannot be read."""
    hour = int((time.time() if now is None else now) // HOUR)
    keys = [f"{LOST_KEY_PREFIX}{h}" for h in range(hour - hours + 1, hour + 1)]
    try:
        cache = caches[dengage_settings.FLOOD_CACHE]
        return sum(int(value) for value in cache.get_many(keys).values())
    except Exception:
        return None
