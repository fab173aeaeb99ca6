"""The JSON view for headless shops: a front end posts its page's events,
gets Dengage's widgets back (``dengage_django.urls``, name ``dengage:decide``).

``POST`` a JSON object ``{"events": [{"name": "PAGE_VIEW", "category":
"Product Page", "pageUrl": "https://shop.example/p/1/"}, {"name":
"PRODUCT_VIEW", "productId": "P1", ...}]}`` with the visitor's cookies (and
Django's CSRF token, as for any POST); the answer is ``{"ok": bool,
"reason": str, "widgets": [{"instanceId", "actionId", "title",
"products"}]}``. The events are validated as :func:`dengage_django.track`
validates them, sent live as ``request.dengage.decide()`` sends a page's,
and the widgets recorded as impressions.

The body is the visitor's: it is checked before anything is recorded, and
any problem is a 400 naming it (nothing stored, in strict mode too). The
ids come from the visitor's cookies: an event giving ``userId`` or
``sessionId`` is refused. At most :data:`MAX_EVENTS` events and
:data:`MAX_BODY` bytes. A request the middleware does not track (a bot, no
consent, no cookies yet) gets ``ok: false`` and no widget.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from ..events.validation import EVENT_NAMES, build_event
from ..exceptions import DengageValidationError
from .widgets import Decisions

MAX_EVENTS = 20
MAX_BODY = 64 * 1024
#: Fields the visitor's cookies fill; a front end may not choose them.
ID_FIELDS = frozenset({"userId", "sessionId", "user_id", "session_id"})


def _problem(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"ok": False, "reason": message, "widgets": []}, status=status)


def _events(request: HttpRequest) -> list[dict[str, Any]] | str:
    """The body's events, each checked; or what is wrong with them."""
    if len(request.body) > MAX_BODY:
        return f"the body is larger than {MAX_BODY} bytes"
    try:
        body = json.loads(request.body)
    except ValueError:
        return "the body is not JSON"
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        return f'the body must be {{"events": [1 to {MAX_EVENTS} events]}}'
    checked = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get("name") not in EVENT_NAMES:
            return f"events[{index}]: an object whose name is one of {', '.join(EVENT_NAMES)}"
        if ID_FIELDS & event.keys():
            return f"events[{index}]: userId and sessionId come from the visitor's cookies"
        try:
            build_event(event["name"], {**event, "userId": "-", "sessionId": "-"})
        except DengageValidationError as exc:
            return f"events[{index}]: {exc}"
        checked.append(event)
    return checked


def _widget(widget: Any) -> dict[str, Any]:
    return {
        "instanceId": widget.instance_id,
        "actionId": widget.action_id,
        "title": widget.title,
        "products": widget.products,
    }


@require_POST
def decide(request: HttpRequest) -> JsonResponse:
    """Record the posted events, send them live, answer the widgets."""
    tracker = getattr(request, "dengage", None)
    if tracker is None:
        return _problem("DengageMiddleware is not installed", status=500)
    events = _events(request)
    if isinstance(events, str):
        return _problem(events)
    if tracker.active:
        for event in events:
            fields = {key: value for key, value in event.items() if key != "name"}
            tracker.track(event["name"], **fields)
        decisions = tracker.decide(page_view=False)
    else:
        decisions = Decisions.empty("not tracked")
    return JsonResponse(
        {
            "ok": decisions.ok,
            "reason": decisions.reason,
            "widgets": [_widget(widget) for widget in decisions.widgets],
        }
    )
