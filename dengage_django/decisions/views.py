"""The JSON view for headless shops: a front end posts its page's events,
gets Dengage's widgets back (``dengage_django.urls``, name ``dengage:decide``).

``POST`` a JSON object ``{"events": [{"name": "PAGE_VIEW", "category":
"Product Page", "pageUrl": "https://shop.example/p/1/"}, {"name":
"PRODUCT_VIEW", "productId": "P1", ...}]}`` with the visitor's cookies (and
Django's CSRF token, as for any POST); the answer is ``{"ok": bool,
"reason": str, "widgets": [{"instanceId", "actionId", "title",
"products", "viewToken"}]}``: post a widget's ``viewToken`` to
``dengage:widget-view`` once it is seen (:mod:`.beacon`). The events are
validated as :func:`dengage_django.track` validates them, sent live as
``request.dengage.decide()`` sends a page's, and the widgets recorded as
impressions.

The body is the visitor's: it is checked before anything is recorded, and
any problem is a 400 naming it (nothing stored, in strict mode too). The
ids come from the visitor's cookies: an event giving ``userId`` or
``sessionId`` is refused, and so is an INTERACTION (attribution is the
server's: impressions of the widgets it answers, clicks from their links).
At most :data:`MAX_EVENTS` events and :data:`MAX_BODY` bytes. A request the
middleware does not track (a bot, no consent, no cookies yet) gets ``ok:
false`` and no widget; why there is none is said only with ``DEBUG`` on.

Trust: as with the vendor's own web library, whatever a visitor's browser
sends about a product (its title, price, image) reaches Dengage; post only
``productId`` from the front end and let the server fill the rest when that
matters to you.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..conf import dengage_settings
from ..events.validation import EVENT_NAMES, check_fields, visitor_text
from ..exceptions import DengageValidationError
from . import beacon
from .widgets import Decisions

logger = logging.getLogger(__name__)

MAX_EVENTS = 20
MAX_BODY = 64 * 1024
#: What a front end may post: the page's events, not INTERACTION (the
#: server records impressions, and clicks from the widget links' landing:
#: a posted one would be attribution anyone could forge).
POSTABLE = tuple(name for name in EVENT_NAMES if name != "INTERACTION")
#: Fields the visitor's cookies fill; a front end may not choose them.
ID_FIELDS = frozenset({"userId", "sessionId", "user_id", "session_id"})


def _problem(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"ok": False, "reason": message, "widgets": []}, status=status)


def _too_large(request: HttpRequest, limit: int) -> bool:
    """Whether the body is (or says it is) longer than ``limit`` bytes:
    judged on ``Content-Length`` before the body is read."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    return declared > limit or len(request.body) > limit


def _events(request: HttpRequest) -> list[dict[str, Any]] | str:
    """The body's events, each checked; or what is wrong with them."""
    if _too_large(request, MAX_BODY):
        return f"the body is larger than {MAX_BODY} bytes"
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):
        return "the body is not JSON (or nested too deep)"
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        return f'the body must be {{"events": [1 to {MAX_EVENTS} events]}}'
    checked = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get("name") not in POSTABLE:
            return f"events[{index}]: an object whose name is one of {', '.join(POSTABLE)}"
        if ID_FIELDS & event.keys():
            return f"events[{index}]: userId and sessionId come from the visitor's cookies"
        try:
            check_fields(event["name"], event)
        except DengageValidationError as exc:
            return f"events[{index}]: {exc}"
        checked.append(event)
    return checked


def _front_end_page(
    tracker: Any, request: HttpRequest, events: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Make the front end's page the page of this request's events (not
    this view's URL): the posted PAGE_VIEW's ``pageUrl`` and ``referrer``,
    else the page the browser says it posts from (``Referer``). Returns the
    posted PAGE_VIEW's query (``{}`` without one): a landing's, when it
    carries a widget link's parameters."""
    page = next((event for event in events if event["name"] == "PAGE_VIEW"), None)
    page_url = page.get("pageUrl", page.get("page_url")) if page else None
    if not isinstance(page_url, str) or not page_url:
        page_url = request.headers.get("Referer", "")
    fields = {}
    url = visitor_text(page_url) if page_url else None
    if url:
        fields["pageUrl"] = url
    referrer = page.get("referrer") if page else None
    referrer = visitor_text(referrer) if isinstance(referrer, str) else None
    if referrer:
        fields["referrer"] = referrer
    tracker.page_fields = fields
    if page is None or not url:
        return {}
    try:
        return parse_qs(urlsplit(url).query)
    except ValueError:  # not a URL (the PAGE_VIEW itself was checked)
        return {}


def _widget(widget: Any, user_id: str, page_url: str | None) -> dict[str, Any]:
    return {
        "instanceId": widget.instance_id,
        "actionId": widget.action_id,
        "title": widget.title,
        "products": widget.products,
        "viewToken": beacon.view_token(user_id, widget, page_url),
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
        landing = _front_end_page(tracker, request, events)
        for event in events:
            fields = {key: value for key, value in event.items() if key != "name"}
            tracker.track(event["name"], **fields)
        # A widget's link followed: its click, after the page's PAGE_VIEW
        # (as the middleware records a server page's).
        tracker.record_landing(landing)
        decisions = tracker.decide(page_view=False)
    else:
        decisions = Decisions.empty("not tracked")
    return JsonResponse(
        {
            "ok": decisions.ok,
            # Why there is no widget is the operator's business (the
            # account's state, the circuit): told to the browser in DEBUG.
            "reason": decisions.reason if settings.DEBUG else "",
            "widgets": [
                _widget(widget, tracker.user_id, tracker.page_url) for widget in decisions.widgets
            ],
        }
    )


# sendBeacon cannot send Django's CSRF token. Exempt, as a cross-site page
# can only make a visitor's browser post a token of theirs, once: a view
# of a widget this site showed them.
@csrf_exempt
@require_POST
def widget_view(request: HttpRequest) -> HttpResponse:
    """Record INTERACTION ``widget-view`` for the widget whose token is the
    body (:mod:`.beacon`): 204, also when the request is not tracked or the
    token was used already; 400 for a token that is not the visitor's, too
    old or altered (why, only with ``DEBUG`` on)."""
    tracker = getattr(request, "dengage", None)
    if tracker is None:
        return HttpResponse("DengageMiddleware is not installed", status=500)
    if _too_large(request, beacon.MAX_TOKEN):
        return _refused("the body is larger than a token")
    if not tracker.active:
        return HttpResponse(status=204)
    view = beacon.read_token(request.body.decode("utf-8", "replace").strip(), tracker.user_id)
    if isinstance(view, str):
        return _refused(view)
    try:
        first = beacon.first_use(view)
    except Exception:  # the cache is down: no view rather than views counted twice
        if dengage_settings.STRICT:
            raise
        logger.exception("widget-view not recorded: the cache of used tokens failed")
        first = False
    if first:
        # The widget's page, not this view's URL.
        tracker.page_fields = {"pageUrl": view.page_url} if view.page_url else {}
        try:
            tracker.interaction(
                "widget-view", instance_id=view.instance_id, interaction_id=view.action_id or None
            )
        except DengageValidationError as exc:  # ids Dengage gave: never the visitor's fault
            logger.warning("no widget-view for a widget Dengage answered: %s", exc)
    return HttpResponse(status=204)


def _refused(reason: str) -> HttpResponse:
    return HttpResponse(reason if settings.DEBUG else "", status=400, content_type="text/plain")
