"""What integrations add to the middleware's work on a tracked request.

An integration's app (``dengage_django.contrib.oscar``) registers in its
``ready()`` a function the middleware calls for every tracked request once
the view has answered, before the PAGE_VIEW is recorded, with the request's
tracker and the response: it may set the page's category
(``tracker.page(...)``), record events from what the view did, and keep what
it gathered during the request in ``tracker.state``. Each hook runs on its
own: one that fails is logged (raised in strict mode), and the other hooks,
the PAGE_VIEW and the cookies go on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpResponseBase

    from .tracker import Tracker

Hook = Callable[["Tracker", "HttpResponseBase"], object]

#: The registered hooks, in registration order.
FINISH_HOOKS: list[Hook] = []


def on_finish(hook: Hook) -> Hook:
    """Have the middleware call ``hook(tracker, response)`` for every tracked
    request (once per function, however often registered); usable as a
    decorator."""
    if hook not in FINISH_HOOKS:
        FINISH_HOOKS.append(hook)
    return hook
