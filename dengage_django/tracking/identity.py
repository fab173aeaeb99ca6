"""Visitor (``userId``) and session (``sessionId``) ids.

* The userId lives in a long-lived first-party cookie
  (``DENGAGE_USER_COOKIE_NAME``, about 390 days, HttpOnly, SameSite=Lax,
  Secure on HTTPS).
* The sessionId lives in the visitor's Django session when they have one
  (a session cookie), else in a cookie of ours: no Django session is ever
  created for it. Either way a visitor inactive for
  ``DENGAGE_SESSION_TIMEOUT`` seconds starts a new session.
* Ids read back from cookies or the session are checked; anything else
  is replaced, never echoed. New ids and user links: :mod:`.ids`.
* Responses on which the ids were read or set carry ``Vary: Cookie``; those
  that set a new id also carry ``Cache-Control: private``, so no cache hands
  one visitor's ids to another.
"""

import logging
import time

from django.utils.cache import patch_cache_control, patch_vary_headers

from ..conf import dengage_settings
from .ids import held_by_another, is_valid_id, link, linked_user_id, new_ids

logger = logging.getLogger(__name__)

SESSION_KEY = "_dengage_sid"
SESSION_SEEN_KEY = "_dengage_seen"
#: ``[user pk, userId]`` once the device's id was checked against the
#: logged-in user's link, so the check costs a query once per session.
SESSION_CHECKED_KEY = "_dengage_uid_for"
#: Only write the "last seen" time to the session when it moved this much,
#: so an active visitor does not cost a session save on every request.
SEEN_GRANULARITY = 60


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
