"""Where visitor ids come from, and which user holds which id.

* New ids come from Dengage's ``/get/key`` when ``DENGAGE_ID_SOURCE`` is
  ``"dengage"`` (the default): fetched in batches of
  ``DENGAGE_ID_POOL_SIZE`` into a process-wide pool (:class:`KeyPool`),
  refilled by a background thread before it runs dry, so no page ever
  waits for ``/get/key``: a new visitor who finds the pool empty (the first
  ones after start-up, or during an outage) gets local ids at once. An
  answer with fewer ids than asked is used as it is. When a fetch fails in any way
  (an HTTP error, a timeout, an answer that is not a JSON list, no usable
  id in it, any exception), local unique ids are used and no new call is
  made for ``DENGAGE_ID_FETCH_BACKOFF`` seconds, so an outage adds no
  latency to pages. ``"local"`` never calls Dengage, and neither does a
  project without a data center URL or API key, nor a test run (Django's
  test environment is set up) whose data center is not on this machine:
  a shop's own tests never reach the real Dengage for ids.
* Ids read back from cookies or the session are checked
  (:func:`is_valid_id`); anything else is replaced, never echoed.
* ``DengageIdentity`` rows link an auth user to the Dengage userId they
  were last seen with (:func:`link`, :func:`linked_user_id`).
"""

import logging
import os
import re
import threading
import time
import uuid
from collections import deque
from urllib.parse import urlsplit

from ..conf import dengage_settings
from ..exceptions import DengageError

logger = logging.getLogger(__name__)


#: Ids Dengage hands out look numeric (possibly negative); local ids are
#: hex; the guide allows "any string". Accepted: 1 to 128 (the longest id
#: an event may carry) ASCII letters, digits, ``-``, ``_``, ``.`` and ``:``,
#: all safe in a cookie value and a log line without quoting. Anything else
#: (read from a cookie, the session or ``/get/key``) is replaced, never
#: echoed.
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def is_valid_id(value):
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def local_id():
    """A unique id made here (Dengage accepts any unique string)."""
    return uuid.uuid4().hex


#: The most ids one ``/get/key`` call asks for (the client's own limit).
MAX_KEYS_PER_FETCH = 1000


class KeyPool:
    """Thread-safe pool of ids from ``/get/key``, refilled in the background.

    ``take(n)`` never waits for the network and never raises: it answers
    from the pool and makes local ids for whatever is missing. When the
    pool holds no more than half of ``DENGAGE_ID_POOL_SIZE`` after a take,
    a daemon thread fetches a batch (one at a time, with
    ``DENGAGE_ID_FETCH_TIMEOUT``), so the pool is refilled before it runs
    dry. The thread is started by the first take of a process (servers that
    fork workers each get their own; ids a parent held are forgotten in a
    forked child, so no two processes hand out the same id).

    Why batches, when the vendor's clients ask for 2 ids per new visitor
    and 1 per new session: they run in the visitor's browser or app, once
    per visitor. Here one process serves every visitor, on the page's
    critical path: a batch of ``DENGAGE_ID_POOL_SIZE`` (100) turns 50
    requests, each adding latency to a first page, into one. The ids a
    process never hands out are dropped when it stops.

    A fetch that yields no usable id, for whatever reason, is a failure: no
    fetch for ``DENGAGE_ID_FETCH_BACKOFF`` seconds, so a broken data center
    never costs a request per visitor.
    """

    def __init__(self):
        self._reset()
        #: ``/get/key`` calls made, and how many of them failed.
        self.fetches = 0
        self.failures = 0

    def _reset(self):
        self._ids = deque()
        self._lock = threading.Lock()
        self._fetching = threading.Lock()
        self._thread = None
        self._retry_at = 0.0

    def clear(self):
        with self._lock:
            self._ids.clear()
            self._retry_at = 0.0

    def after_fork(self):
        """In a forked child: forget the parent's ids (the parent hands them
        out too) and its threads and locks (they do not exist here)."""
        self._reset()

    def __len__(self):
        return len(self._ids)

    def _pop(self, count):
        """Up to ``count`` ids from the pool."""
        with self._lock:
            return [self._ids.popleft() for _ in range(min(count, len(self._ids)))]

    def take(self, count):
        """``count`` ids: from the pool, local ones for what it lacks; a
        background refill is started when the pool runs low."""
        ids = self._pop(count)
        if len(self._ids) <= self.batch_size(1) // 2:
            self._refill_in_background(max(count - len(ids), 1))
        return ids + [local_id() for _ in range(count - len(ids))]

    def _may_fetch(self):
        """Whether a fetch may start now (no back-off running, none under
        way); when it may, the caller holds ``_fetching`` and must release it."""
        return time.monotonic() >= self._retry_at and self._fetching.acquire(blocking=False)

    def _refill_in_background(self, missing):
        if not self._may_fetch():
            return
        try:
            self._thread = threading.Thread(
                target=self._refill_then_release,
                args=(missing,),
                name="dengage-key-pool",
                daemon=True,
            )
            self._thread.start()
        except Exception as exc:  # no thread to be had: try again on a later take
            self._fetching.release()
            logger.warning("could not start fetching ids in the background: %s", exc)

    def _refill_then_release(self, missing):
        try:
            self._fetch(missing)
        finally:
            self._fetching.release()

    def refill(self, missing=1):
        """Fetch one batch now, in this thread (unless one is under way or
        the back-off runs); returns whether a fetch was made."""
        if not self._may_fetch():
            return False
        self._refill_then_release(missing)
        return True

    def wait(self, timeout=None):
        """Wait for a background refill under way (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def batch_size(missing):
        """How many ids to ask for when ``missing`` are needed now."""
        size = dengage_settings.ID_POOL_SIZE
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            size = 1  # the system check reports the setting
        return min(max(missing, size), MAX_KEYS_PER_FETCH)

    def _fetch(self, missing):
        self.fetches += 1
        count = self.batch_size(missing)
        try:
            client = _keys_client()
            keys = client.get_keys(count, timeout=dengage_settings.ID_FETCH_TIMEOUT)
            usable = self._usable(keys, count)
        except Exception as exc:  # any failure: local ids and the back-off
            self._failed(exc)
            return
        if not usable:
            self._failed(f"/get/key answered no usable id ({_describe(keys)})")
            return
        with self._lock:
            held = set(self._ids)
            self._ids.extend(key for key in usable if key not in held)

    @staticmethod
    def _usable(keys, count):
        """The valid, distinct ids among the first ``count`` of ``keys``."""
        if not isinstance(keys, (list, tuple)):
            raise DengageError(f"/get/key answered no list of ids ({_describe(keys)})")
        keys = keys[:count]
        usable = list(dict.fromkeys(key for key in keys if is_valid_id(key)))
        if usable and len(usable) < len(keys):
            logger.warning(
                "/get/key answered %d ids of which %d were not usable; using the other %d",
                len(keys),
                len(keys) - len(usable),
                len(usable),
            )
        return usable

    def _failed(self, problem):
        self.failures += 1
        backoff = dengage_settings.ID_FETCH_BACKOFF
        self._retry_at = time.monotonic() + (backoff if _is_number(backoff) else 60.0)
        if isinstance(problem, Exception) and not isinstance(problem, DengageError):
            problem = f"{type(problem).__name__}: {problem}"
        logger.warning(
            "could not fetch ids from Dengage, using local ids for %ss: %s",
            backoff,
            _redacted(problem),
        )


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe(keys):
    """A short, safe description of an answer (never its content)."""
    if isinstance(keys, (list, tuple)):
        return f"a list of {len(keys)}"
    return type(keys).__name__


def _redacted(problem):
    from ..delivery.redaction import redact

    return redact(str(problem))


_pool = KeyPool()


_clients: dict[tuple, object] = {}


_clients_lock = threading.Lock()


def _keys_client():
    """A client per configuration (one pooled connection per process)."""
    from ..delivery.client import DengageClient

    key = (
        dengage_settings.API_KEY,
        dengage_settings.DATA_CENTER_URL,
        dengage_settings.ORIGIN,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = DengageClient.from_settings()
        return client


def key_pool():
    return _pool


def _after_fork():
    """In a forked child (a server's worker): a pool and connections of its
    own (see :meth:`KeyPool.after_fork`)."""
    global _clients_lock
    _pool.after_fork()
    _clients_lock = threading.Lock()
    _clients.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def in_test_run():
    """Whether Django's test environment is set up (its test runner and
    pytest-django both do it): ``mail.outbox`` exists only then."""
    from django.core import mail

    return hasattr(mail, "outbox")


def _fetches_ids():
    """Whether new ids come from ``/get/key`` (see the module docstring)."""
    if dengage_settings.ID_SOURCE == "local":
        return False
    url = dengage_settings.DATA_CENTER_URL
    if not (url and dengage_settings.API_KEY):
        return False
    if in_test_run():
        host = urlsplit(url).hostname or ""
        return host in LOOPBACK_HOSTS or host.startswith("127.")
    return True


def new_ids(count):
    """``count`` fresh ids from the configured source."""
    if not _fetches_ids():
        return [local_id() for _ in range(count)]
    return _pool.take(count)


def _identity_model():
    from ..models import DengageIdentity

    return DengageIdentity


def _linkable(user):
    from django.contrib.auth import get_user_model

    return isinstance(user, get_user_model()) and user.pk is not None


def linked_user_id(user, *, create=True):
    """The Dengage userId linked to an auth ``user`` (a fresh one, linked
    now, when there is none and ``create``). An object that is not an
    ``AUTH_USER_MODEL`` instance cannot be linked: it gets a fresh id."""
    if not _linkable(user):
        return new_ids(1)[0] if create else None
    found = (
        _identity_model()
        .objects.filter(user=user)
        .values_list("dengage_user_id", flat=True)
        .first()
    )
    if found and is_valid_id(found):
        return found
    if not create:
        return None
    return link(user, new_ids(1)[0])


def held_by_another(user_id, user):
    """Whether a user other than ``user`` is linked to ``user_id``."""
    return (
        _identity_model().objects.filter(dengage_user_id=user_id).exclude(user_id=user.pk).exists()
    )


def link(user, user_id):
    """Record that ``user`` is Dengage visitor ``user_id``; returns it."""
    _identity_model().objects.update_or_create(user=user, defaults={"dengage_user_id": user_id})
    return user_id
