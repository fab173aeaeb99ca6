"""Rule 5: responses that read or set ids are never shared by caches."""

import pytest

from .conftest import browser, events

pytestmark = pytest.mark.django_db


def test_new_ids_make_the_response_private_and_vary_on_cookie():
    response = browser().get("/")
    assert "Cookie" in response["Vary"]
    assert "private" in response["Cache-Control"]


def test_a_returning_visitor_without_new_cookies_still_varies_on_cookie():
    client = browser()
    client.get("/")
    client.get("/")  # the session cookie slides: a new Set-Cookie each time
    with_session = client.session
    with_session["x"] = 1
    with_session.save()
    client.get("/")  # sessionId moves into the Django session
    response = client.get("/")
    assert "dengage_uid" not in response.cookies
    assert "Cookie" in response["Vary"]


def test_untouched_responses_get_no_headers():
    response = browser().get("/api/", HTTP_ACCEPT="application/json")
    assert "Vary" not in response or "Cookie" not in response["Vary"]


def test_per_site_cache_serves_two_visitors_their_own_ids(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "x"}
    }
    settings.CACHE_MIDDLEWARE_SECONDS = 600
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    first = browser().get("/")
    second = browser().get("/")
    assert first.cookies["dengage_uid"].value != second.cookies["dengage_uid"].value
    assert len({e["userId"] for e in events("PAGE_VIEW")}) == 2
