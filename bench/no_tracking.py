"""The example shop without tracking, for ``bench/server.py``'s "without" side.

``DENGAGE_MIDDLEWARE=bench.no_tracking.NoTrackingMiddleware`` takes the place
of ``DengageMiddleware``: the shop's views that call ``request.dengage``
helpers directly (basket add and remove, wishlist) get a request that is
not tracked, whose helpers do nothing, so they answer as usual and nothing
is recorded. The template tags record nothing either (no tracker that is
active). Sync and async, with no thread hop.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from dengage_django.decisions import Decisions


class _Untracked:
    """``request.dengage`` of an untracked request: every helper a no-op
    (dengage-django's login and logout receivers leave such a request's
    visitor alone)."""

    active = False
    untracked_reason = "not tracked (bench: without the middleware)"

    def __getattr__(self, name):
        return _nothing

    def decide(self, **kwargs):
        return Decisions.empty(self.untracked_reason)

    async def adecide(self, **kwargs):
        return self.decide()


def _nothing(*args, **kwargs):
    return None


UNTRACKED = _Untracked()


class NoTrackingMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        # Async: get_response returns a coroutine, which the caller awaits.
        request.dengage = UNTRACKED
        return self.get_response(request)
