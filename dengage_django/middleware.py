"""``DengageMiddleware``: ``request.dengage``, the automatic PAGE_VIEW, cookies.

Place it after ``SessionMiddleware`` and ``AuthenticationMiddleware``::

    MIDDLEWARE = [
        ...,
        "django.contrib.sessions.middleware.SessionMiddleware",
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        ...,
        "dengage_django.middleware.DengageMiddleware",
    ]

It works in both sync (WSGI) and async (ASGI) stacks. Every request gets a
:class:`~dengage_django.tracking.tracker.Tracker`; once the view returned, a
page a visitor saw is recorded as PAGE_VIEW (see :func:`.policy.is_page_view`)
and the visitor's ids are written back (session, cookies, ``Vary: Cookie``);
the request's deferred events are stored once the response has gone to the
client (:mod:`.recording.after_response`), so the page never waits for the
INSERT. Each of these steps stands alone: a failing page view loses neither
the request's other events nor its cookies. Tracking never breaks a page:
outside strict mode an error here is logged and the response goes out
unchanged.
"""

import functools
import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.utils.cache import patch_cache_control, patch_vary_headers

from .conf import dengage_settings
from .recording.after_response import store_after
from .recording.subject import remember_request_consent
from .tracking.context import current_tracker
from .tracking.hooks import FINISH_HOOKS
from .tracking.ids import in_test_run
from .tracking.policy import is_page_view
from .tracking.tracker import Tracker

logger = logging.getLogger(__name__)


def per_visitor(response):
    """A response built with the visitor's decisions is theirs alone."""
    patch_vary_headers(response, ("Cookie",))
    patch_cache_control(response, private=True)


class DengageMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        request.dengage = Tracker(request, deferred=True)
        token = current_tracker.set(request.dengage)
        try:
            response = self.get_response(request)
            self.finish(request, response)
        finally:
            current_tracker.reset(token)
        return response

    async def __acall__(self, request):
        request.dengage = Tracker(request, deferred=True)
        token = current_tracker.set(request.dengage)
        try:
            # The policy, the session and the user are sync I/O: done here,
            # off the event loop, so the view's helpers need none.
            await sync_to_async(request.dengage.preload)()
            response = await self.get_response(request)
            # The policy, the session and the outbox are sync I/O. Django's
            # AsyncClient closes responses outside this thread: in its test
            # environment the events are stored now (see after_response).
            await sync_to_async(self.finish)(request, response, store_now=in_test_run())
        finally:
            current_tracker.reset(token)
        return response

    def finish(self, request, response, *, store_now=False):
        """Run the integrations' hooks (:mod:`.tracking.hooks`), record the
        PAGE_VIEW if this was one, write the ids back, and have
        the request's deferred events stored in one INSERT once the response
        is sent; each step on its own."""
        tracker = request.dengage
        if tracker.active:
            for hook in FINISH_HOOKS:  # integrations' (see tracking.hooks)
                self._step(request, hook, tracker, response)
        if tracker.active and is_page_view(request, response):
            not_found = response.status_code == 404
            self._step(request, functools.partial(tracker.record_page_view, not_found=not_found))
            # A widget's link followed: counted on the page it led to (not
            # on a redirect, which may keep the query for the next hop).
            self._step(request, tracker.record_landing)
        if tracker.decided:
            self._step(request, per_visitor, response)
        self._step(request, tracker.identity.write_back, response)
        self._step(request, remember_request_consent, tracker)
        self._step(request, functools.partial(store_after, now=store_now), tracker, response)

    @staticmethod
    def _step(request, function, *args):
        try:
            function(*args)
        except Exception:
            if dengage_settings.STRICT:
                raise
            logger.exception("Dengage tracking failed for %s", request.path)
