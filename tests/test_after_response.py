"""Issue 13: a request's events are stored once its response has gone out.

The middleware leaves the request's deferred events (the PAGE_VIEW and what
the view's helpers recorded outside a transaction) to the response's
``close()``, which servers call after the last byte. Events recorded inside
a transaction are stored at once, with it. A failure there is logged and
counted, never raised.
"""

import logging
import threading
import time

import pytest
import requests
from django.db import DatabaseError, transaction
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from dengage_django import outbox
from dengage_django.middleware import DengageMiddleware
from dengage_django.models import OutboxEvent
from dengage_django.recording import after_response
from dengage_django.status import collect, lines

from .test_tracking import DESKTOP

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_lost_counts():
    from django.core.cache import caches

    caches["default"].clear()
    yield
    caches["default"].clear()


def names():
    return list(OutboxEvent.objects.order_by("id").values_list("name", flat=True))


def browser_request(path="/p/1/"):
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore

    request = RequestFactory().get(path, HTTP_USER_AGENT=DESKTOP)
    request.session = SessionStore()
    request.user = AnonymousUser()
    return request


def through_middleware(view, path="/p/1/"):
    """Run ``view`` behind the middleware, as a handler would; the response
    is returned unclosed."""
    return DengageMiddleware(view)(browser_request(path))


def close(response):
    """``response.close()`` as a server calls it, keeping the test's database
    connection open (Django's test client does the same)."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def product_page(request):
    request.dengage.product_view({"productId": "P1", "title": "Shoe", "price": 10})
    return HttpResponse("<html>shoe</html>")


def test_nothing_is_stored_until_the_response_is_closed():
    response = through_middleware(product_page)
    assert names() == []
    assert response.cookies["dengage_uid"].value  # ids went out with the page
    close(response)
    assert names() == ["PAGE_VIEW", "PRODUCT_VIEW"]
    user_ids = set(OutboxEvent.objects.values_list("user_id", flat=True))
    assert user_ids == {response.cookies["dengage_uid"].value}


def test_a_streaming_response_stores_after_its_last_chunk():
    sent = []

    def chunks():
        sent.append("first")
        yield b"<html>"
        sent.append("last")
        yield b"</html>"

    def view(request):
        request.dengage.product_view({"productId": "P1", "title": "Shoe", "price": 10})
        return StreamingHttpResponse(chunks(), content_type="text/html")

    response = through_middleware(view)
    body = b"".join(response)
    assert body == b"<html></html>" and sent == ["first", "last"]
    assert names() == []
    close(response)
    assert names() == ["PAGE_VIEW", "PRODUCT_VIEW"]


def test_a_file_response_stores_when_closed(tmp_path):
    page = tmp_path / "page.html"
    page.write_bytes(b"<html>a file</html>")

    def view(request):
        request.dengage.custom_event("download", {"file": "page.html"})
        return FileResponse(page.open("rb"), content_type="text/html")

    response = through_middleware(view)
    assert b"".join(response.streaming_content) == b"<html>a file</html>"
    assert names() == []
    close(response)
    assert names() == ["PAGE_VIEW", "CUSTOM_EVENT"]


@pytest.mark.django_db(transaction=True)
def test_events_recorded_in_a_transaction_are_stored_with_it():
    def view(request):
        with transaction.atomic():
            request.dengage.custom_event("order", {"orderNo": "42"})
        return HttpResponse("<html>thanks</html>")

    response = through_middleware(view, "/checkout/")
    assert names() == ["CUSTOM_EVENT"]  # committed with the view's work
    close(response)
    assert names() == ["CUSTOM_EVENT", "PAGE_VIEW"]


def test_a_response_replaced_above_the_middleware_still_stores(settings):
    """ConditionalGetMiddleware answers 304 with a response of its own: the
    one the middleware saw is never closed; the events are stored when the
    304 is (every close() sends request_finished)."""
    from django.middleware.http import ConditionalGetMiddleware

    def view(request):
        request.dengage.custom_event("seen", {"page": "etag"})
        response = HttpResponse("<html>same as before</html>")
        response["ETag"] = '"v1"'
        return response

    chain = ConditionalGetMiddleware(DengageMiddleware(view))
    request = browser_request("/etag/")
    request.META["HTTP_IF_NONE_MATCH"] = '"v1"'
    response = chain(request)
    assert response.status_code == 304
    assert names() == []
    close(response)
    assert names() == ["PAGE_VIEW", "CUSTOM_EVENT"]
    close(response)
    assert names() == ["PAGE_VIEW", "CUSTOM_EVENT"]


def test_a_response_that_is_never_closed_stores_at_the_threads_next_request_end():
    abandoned = through_middleware(product_page)
    assert abandoned is not None and names() == []
    close(through_middleware(lambda request: HttpResponse("<html>next</html>")))
    assert names() == ["PAGE_VIEW", "PRODUCT_VIEW", "PAGE_VIEW"]


def test_closing_twice_stores_once():
    response = through_middleware(product_page)
    close(response)
    close(response)
    assert names() == ["PAGE_VIEW", "PRODUCT_VIEW"]


def failing_insert(monkeypatch):
    def insert(events):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(outbox, "insert", insert)


@pytest.mark.parametrize("strict", [True, False])
def test_a_failure_after_the_response_is_logged_and_counted_never_raised(
    monkeypatch, settings, caplog, strict
):
    settings.DENGAGE_STRICT = strict
    response = through_middleware(product_page)
    failing_insert(monkeypatch)
    with caplog.at_level(logging.ERROR, logger="dengage_django"):
        close(response)  # Django would swallow it; nothing is raised here at all
    assert names() == []
    assert "2 Dengage event(s) of /p/1/ lost after the response: PAGE_VIEW, PRODUCT_VIEW" in (
        caplog.text
    )
    assert after_response.lost_since(24) == 2
    snapshot = collect()
    assert snapshot.lost == 2
    assert any(
        line.startswith("events lost after their response (24 h): 2") for line in lines(snapshot)
    )
    assert snapshot.as_dict()["lost_after_response_24h"] == 2


def test_anything_raised_while_storing_is_counted_with_the_events_names(
    monkeypatch, settings, caplog
):
    from dengage_django.recording import after_response as module

    def boom(events, strict=None):
        raise RuntimeError("not a database error")

    response = through_middleware(product_page)
    monkeypatch.setattr(module, "store_batch", boom)
    with caplog.at_level(logging.ERROR, logger="dengage_django"):
        close(response)
    assert "could not be stored after the response" in caplog.text
    assert "2 Dengage event(s) of /p/1/ lost after the response: PAGE_VIEW, PRODUCT_VIEW" in (
        caplog.text
    )
    assert after_response.lost_since(24) == 2


def test_only_the_bad_row_is_lost_after_the_response(monkeypatch, settings):
    settings.DENGAGE_STRICT = False
    real_insert = outbox.insert

    def insert(events):
        if any(event.name == "PRODUCT_VIEW" for event in events):
            raise DatabaseError("value too long")
        return real_insert(events)

    response = through_middleware(product_page)
    monkeypatch.setattr(outbox, "insert", insert)
    close(response)
    assert names() == ["PAGE_VIEW"]
    assert after_response.lost_since(24) == 1


def test_lost_counts_are_hourly_and_cover_a_day():
    hour = 3600
    now = 1_000_000 * hour
    after_response.count_lost(3, now=now - 25 * hour)  # outside the day
    after_response.count_lost(2, now=now - 23 * hour)
    after_response.count_lost(1, now=now)
    after_response.count_lost(4, now=now + 10)
    assert after_response.lost_since(24, now=now + 10) == 7


def test_a_per_process_cache_says_the_count_is_this_processs(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"},
    }
    assert not after_response.counted_across_processes()
    assert "0 in this process (DENGAGE_FLOOD_CACHE is not shared" in " ".join(lines(collect()))
    settings.DENGAGE_FLOOD_CACHE = "shared"
    assert after_response.counted_across_processes()
    assert collect().as_dict()["lost_counted_across_processes"] is True


def test_an_unreadable_cache_shows_unknown(settings):
    settings.DENGAGE_FLOOD_CACHE = "nowhere"
    assert after_response.lost_since(24) is None
    assert "events lost after their response (24 h): unknown" in " ".join(lines(collect()))
    after_response.count_lost(1)  # logged, not raised


def test_receivers_see_the_requests_tracker_after_the_response():
    from dengage_django import signals
    from dengage_django.tracking.context import current_tracker

    seen = []

    def receiver(sender, event, **kwargs):
        seen.append(current_tracker.get())

    response = through_middleware(product_page)
    signals.event_recorded.connect(receiver)
    try:
        close(response)
    finally:
        signals.event_recorded.disconnect(receiver)
    assert len(seen) == 2 and seen[0] is not None
    assert seen[0].request.path == "/p/1/"
    assert current_tracker.get() is None


# -- A real HTTP server --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_page_reaches_the_client_before_the_insert(live_server, monkeypatch):
    """Django's live server (a threaded WSGI server) with an INSERT that
    takes two seconds: the client has the whole page long before the event
    is stored, and the event is stored."""
    real_insert = outbox.insert
    started = threading.Event()

    def slow_insert(events):
        started.set()
        time.sleep(2.0)
        return real_insert(events)

    monkeypatch.setattr(outbox, "insert", slow_insert)
    began = time.monotonic()
    response = requests.get(live_server.url + "/p/1/", headers={"User-Agent": DESKTOP}, timeout=10)
    elapsed = time.monotonic() - began
    assert response.status_code == 200 and "Runner" in response.text
    assert elapsed < 1.5, elapsed
    assert started.wait(5)
    deadline = time.monotonic() + 10
    while "PAGE_VIEW" not in names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "PAGE_VIEW" in names()
    page_view = OutboxEvent.objects.get(name="PAGE_VIEW")
    assert page_view.user_id == response.cookies["dengage_uid"]


# -- Django's ASGI handler, driven as a server drives it ----------------------


@pytest.mark.django_db(transaction=True)
def test_under_the_asgi_handler_events_are_stored_after_the_last_body_message(monkeypatch):
    """ASGIHandler with a scope, receive and send, as uvicorn calls it: when
    the last body message goes out nothing is stored yet; once the handler
    is done (it closed the response, in the request's thread), the page's
    events are. (Django's AsyncClient closes elsewhere: the middleware
    stores before the response in test runs, switched off here.)"""
    import asyncio

    from asgiref.sync import sync_to_async
    from django.core.handlers.asgi import ASGIHandler

    from dengage_django import middleware

    monkeypatch.setattr(middleware, "in_test_run", lambda: False)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/p/1/",
        "raw_path": b"/p/1/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"user-agent", DESKTOP.encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    stored_at_last_body = []
    messages = []
    received = []

    async def receive():
        if not received:
            received.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # no disconnect while the handler runs

    async def send(message):
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            stored_at_last_body.extend(await sync_to_async(names)())

    async def serve():
        await ASGIHandler()(scope, receive, send)

    asyncio.run(serve())
    start = next(m for m in messages if m["type"] == "http.response.start")
    assert start["status"] == 200
    assert stored_at_last_body == []
    assert names() == ["PAGE_VIEW", "PRODUCT_VIEW"]
