"""Visitor (``userId``) and session (``sessionId``) ids.

* The userId lives in a long-lived first-party cookie
  (``DENGAGE_USER_COOKIE_NAME``, about 390 days, HttpOnly, SameSite=Lax,
  Secure on HTTPS).
* The sessionId lives in the visitor's Django session when they have one
  (a session cookie), else in a cookie of ours: no Django session is ever
  created for it. Either way a visitor inactive for
  ``DENGAGE_SESSION_TIMEOUT`` seconds starts a new session.
* Ids read back from cookies or the session are checked
  (:func:`is_valid_id`); anything else is replaced, never echoed.
* New ids come from Dengage's ``/get/key`` when ``DENGAGE_ID_SOURCE`` is
  ``"dengage"`` (the default): fetched in batches into a process-wide pool
  (:class:`KeyPool`) so most new visitors cost no HTTP call, with a short
  timeout. When Dengage fails, local unique ids are used and no new call is
  made for ``DENGAGE_ID_FETCH_BACKOFF`` seconds, so an outage adds no
  latency to pages. ``"local"`` never calls Dengage, and neither does a
  project without a data center URL or API key, nor a test run (Django's
  test environment is set up) whose data center is not on this machine:
  a shop's own tests never reach the real Dengage for ids.
* Responses on which the ids were read or set carry ``Vary: Cookie``; those
  that set a new id also carry ``Cache-Control: private``, so no cache hands
  one visitor's ids to another.
"""

import logging
import re
import threading
import time
import uuid
from collections import deque
from urllib.parse import urlsplit

from django.utils.cache import patch_cache_control, patch_vary_headers

from .conf import dengage_settings
from .exceptions import DengageError

logger = logging.getLogger(__name__)

#: Ids Dengage hands out look numeric (possibly negative); local ids are
#: hex. Anything else read from a cookie is replaced.
ID_PATTERN = re.compile(r"-?[A-Za-z0-9_]{1,64}")
SESSION_KEY = "_dengage_sid"
SESSION_SEEN_KEY = "_dengage_seen"
#: ``[user pk, userId]`` once the device's id was checked against the
#: logged-in user's link, so the check costs a query once per session.
SESSION_CHECKED_KEY = "_dengage_uid_for"
#: Only write the "last seen" time to the session when it moved this much,
#: so an active visitor does not cost a session save on every request.
SEEN_GRANULARITY = 60


def is_valid_id(value):
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def local_id():
    """A unique id made here (Dengage accepts any unique string)."""
    return uuid.uuid4().hex


class KeyPool:
    """Thread-safe pool of ids from ``/get/key``, refilled in batches.

    ``take(n)`` never blocks on another thread's fetch and never raises: it
    answers from the pool, fetches one batch (at most one thread at a time,
    with ``DENGAGE_ID_FETCH_TIMEOUT``), or falls back to local ids.
    """

    def __init__(self):
        self._ids = deque()
        self._lock = threading.Lock()
        self._fetching = threading.Lock()
        self._retry_at = 0.0
        self.fetches = 0
        self.failures = 0

    def clear(self):
        with self._lock:
            self._ids.clear()
            self._retry_at = 0.0

    def _pop(self, count):
        with self._lock:
            if len(self._ids) < count:
                return None
            return [self._ids.popleft() for _ in range(count)]

    def take(self, count):
        ids = self._pop(count)
        if ids is not None:
            return ids
        if time.monotonic() >= self._retry_at and self._fetching.acquire(blocking=False):
            try:
                self._fetch(max(count, dengage_settings.ID_POOL_SIZE))
            finally:
                self._fetching.release()
            ids = self._pop(count)
            if ids is not None:
                return ids
        return [local_id() for _ in range(count)]

    def _fetch(self, count):
        self.fetches += 1
        try:
            client = _keys_client()
            keys = client.get_keys(count, timeout=dengage_settings.ID_FETCH_TIMEOUT)
        except (DengageError, ValueError) as exc:
            self.failures += 1
            self._retry_at = time.monotonic() + dengage_settings.ID_FETCH_BACKOFF
            logger.warning(
                "could not fetch ids from Dengage, using local ids for %ss: %s",
                dengage_settings.ID_FETCH_BACKOFF,
                exc,
            )
            return
        valid = [key for key in keys if is_valid_id(key)]
        with self._lock:
            self._ids.extend(valid)


_pool = KeyPool()
_clients = {}
_clients_lock = threading.Lock()


def _keys_client():
    """A client per configuration (one pooled connection per process)."""
    from .client import DengageClient

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


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _in_test_run():
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
    if _in_test_run():
        host = urlsplit(url).hostname or ""
        return host in LOOPBACK_HOSTS or host.startswith("127.")
    return True


def new_ids(count):
    """``count`` fresh ids from the configured source."""
    if not _fetches_ids():
        return [local_id() for _ in range(count)]
    return _pool.take(count)


class Identity:
    """The ids of one request's visitor, resolved on first use.

    Reads the user cookie and the session (Django session or cookie) and
    makes new ids where they are missing, invalid or expired. Changes
    (:meth:`adopt`, :meth:`start_session`, :meth:`reset`) stay in memory
    until :meth:`write_back` stores them in the session and the response's
    cookies, once the view is done (a logout flushes the session in the
    middle of a request).
    """

    def __init__(self, request):
        self.request = request
        self.user_id = None
        self.session_id = None
        self.new_user = False
        self.new_session = False
        self.resolved = False

    def resolve(self):
        if self.resolved:
            return self
        cookies = self.request.COOKIES
        user_id = cookies.get(dengage_settings.USER_COOKIE_NAME)
        session_id, session_fresh = self._stored_session_id()
        wanted = (0 if is_valid_id(user_id) else 1) + (0 if session_fresh else 1)
        fresh = new_ids(wanted) if wanted else []
        user = self._logged_in_user()
        if user is not None:
            user_id = self._user_id_for(user, user_id if is_valid_id(user_id) else None)
        elif not is_valid_id(user_id):
            user_id = fresh.pop()
            self.new_user = True
        if not session_fresh:
            session_id = fresh.pop()
            self.new_session = True
        self.user_id, self.session_id = user_id, session_id
        self.resolved = True
        return self

    def _logged_in_user(self):
        user = getattr(self.request, "user", None)
        return user if getattr(user, "is_authenticated", False) else None

    def _user_id_for(self, user, device_id):
        """The userId of a logged-in ``user`` on a device holding
        ``device_id`` (``None``: no valid cookie). The user's linked id
        wins: a cookie left by someone else (a session that expired
        without a logout, a login on an untracked path) is rewritten. An
        unlinked user takes the device's id unless another user holds it.
        Checked once per session, not per request."""
        session = self.django_session()
        checked = [str(user.pk), device_id]
        if device_id and session is not None and session.get(SESSION_CHECKED_KEY) == checked:
            return device_id
        user_id = linked_user_id(user, create=False)
        if not user_id:
            if device_id is None or held_by_another(device_id, user):
                device_id = None
            user_id = link(user, device_id or new_ids(1)[0])
        if user_id != device_id:
            self.new_user = True
        if session is not None:
            session[SESSION_CHECKED_KEY] = [str(user.pk), user_id]
        return user_id

    def adopt(self, user_id):
        """Make ``user_id`` this visitor's id from now on (cookie included)."""
        self.resolve()
        if is_valid_id(user_id) and user_id != self.user_id:
            self.user_id = user_id
            self.new_user = True

    def start_session(self):
        """A new sessionId from now on (every sign-in starts one)."""
        self.resolve()
        self.session_id = new_ids(1)[0]
        self.new_session = True

    def reset(self):
        """Fresh userId and sessionId (sign-out: the next person on a shared
        browser starts clean). The logout flushes the Django session: the
        new sessionId goes in our cookie rather than create a new one."""
        self.resolve()
        self.user_id, self.session_id = new_ids(2)
        self.new_user = self.new_session = True
        self._django_session = None

    def django_session(self):
        """The visitor's Django session, if they already have one.

        A visitor without a session cookie keeps the sessionId in our own
        cookie instead: creating a Django session for every anonymous
        visitor would cost the shop a session write, and a session read on
        every later page. Decided once per request.
        """
        if not hasattr(self, "_django_session"):
            session = getattr(self.request, "session", None)
            if (
                session is not None
                and getattr(session, "session_key", "") is None
                and not getattr(session, "modified", False)
            ):
                session = None
            self._django_session = session
        return self._django_session

    def _cookie_session_id(self):
        """The sessionId cookie, if valid (it expires after the inactivity
        timeout by itself)."""
        session_id = self.request.COOKIES.get(dengage_settings.SESSION_COOKIE_NAME)
        return session_id if is_valid_id(session_id) else None

    def _stored_session_id(self):
        """(session id, still fresh?) from the Django session or the cookie."""
        session = self.django_session()
        if session is None:
            session_id = self._cookie_session_id()
            return session_id, session_id is not None
        session_id = session.get(SESSION_KEY)
        if session_id is None and (cookie_session_id := self._cookie_session_id()):
            # The visitor just got a Django session (logged in, filled a
            # basket): the cookie's sessionId moves into it, unchanged.
            return cookie_session_id, True
        seen = session.get(SESSION_SEEN_KEY)
        fresh = (
            is_valid_id(session_id)
            and isinstance(seen, (int, float))
            and time.time() - seen <= dengage_settings.SESSION_TIMEOUT
        )
        return session_id, fresh

    def _remember_session(self):
        session = self.django_session()
        if session is None:
            return
        now = int(time.time())
        if self.new_session or session.get(SESSION_KEY) != self.session_id:
            session[SESSION_KEY] = self.session_id
            session[SESSION_SEEN_KEY] = now
        elif now - session.get(SESSION_SEEN_KEY, 0) >= SEEN_GRANULARITY:
            session[SESSION_SEEN_KEY] = now

    def write_back(self, response):
        """Store the ids in the session and ``response``'s cookies, and mark
        the response per visitor. Nothing when the ids were never used."""
        if not self.resolved:
            return
        self._remember_session()
        patch_vary_headers(response, ("Cookie",))
        secure = dengage_settings.COOKIE_SECURE
        common = dict(
            httponly=True,
            samesite="Lax",
            secure=self.request.is_secure() if secure is None else secure,
            domain=dengage_settings.COOKIE_DOMAIN,
        )
        if self.new_user or self.new_session:
            # A long-lived id, refreshed once per session.
            response.set_cookie(
                dengage_settings.USER_COOKIE_NAME,
                self.user_id,
                max_age=dengage_settings.USER_COOKIE_AGE,
                **common,
            )
            patch_cache_control(response, private=True)
        if self.django_session() is None:
            # Sliding expiry: the cookie dies after the inactivity timeout.
            response.set_cookie(
                dengage_settings.SESSION_COOKIE_NAME,
                self.session_id,
                max_age=dengage_settings.SESSION_TIMEOUT,
                **common,
            )
            patch_cache_control(response, private=True)


def _identity_model():
    from .models import DengageIdentity

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
