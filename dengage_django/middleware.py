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
:class:`~dengage_django.tracking.tracker.Tracker`; after the response, a page a
visitor saw is recorded as PAGE_VIEW (see :func:`.policy.is_page_view`),
the request's deferred events are stored, and the visitor's ids are
written back (session, cookies, ``Vary: Cookie``). Each of these steps
stands alone: a failing page view loses neither the request's other events
nor its cookies. Tracking never breaks a page: outside strict mode an error
here is logged and the response goes out unchanged.
"""

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from .conf import dengage_settings
from .recording.subject import remember_request_consent
from .tracking.context import current_tracker
from .tracking.policy import is_page_view
from .tracking.tracker import Tracker

logger = logging.getLogger(__name__)


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
            # The policy, the session, the outbox and /get/key are sync I/O.
            await sync_to_async(self.finish)(request, response)
        finally:
            current_tracker.reset(token)
        return response

    def finish(self, request, response):
        """Record the PAGE_VIEW if this was one, store the request's deferred
        events in one INSERT, then write the ids back; each step on its own."""
        tracker = request.dengage
        if tracker.active and is_page_view(request, response):
            self._step(request, tracker.record_page_view)
        self._step(request, tracker.flush)
        self._step(request, tracker.identity.write_back, response)
        self._step(request, remember_request_consent, tracker)

    @staticmethod
    def _step(request, function, *args):
        try:
            function(*args)
        except Exception:
            if dengage_settings.STRICT:
                raise
            logger.exception("Dengage tracking failed for %s", request.path)
