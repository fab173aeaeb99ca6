"""Rule 2: explicit events are never swallowed by the visitor's rules."""

import json

import pytest

import dengage_django
from dengage_django.models import OutboxEvent

from ..test_tracking import DESKTOP, GOOGLEBOT
from .conftest import STRIPE, browser, events, linked, sign_in

pytestmark = pytest.mark.django_db


def webhook(agent, customer, order="1001"):
    client = browser(agent)
    body = json.dumps({"customer": customer.pk, "order": order})
    return client.post("/webhooks/payment/", body, content_type="application/json")


def test_webhook_purchase_with_a_non_browser_agent_lands_on_the_buyer(alice):
    buyer = browser()
    sign_in(buyer, alice)
    buyer_id = buyer.cookies["dengage_uid"].value
    OutboxEvent.objects.all().delete()

    response = webhook(STRIPE, alice)

    assert response.status_code == 200
    [purchase] = events("CHECKOUT", "purchase")
    assert purchase["userId"] == buyer_id == linked(alice)
    assert purchase["orderNo"] == "1001"
    assert "dengage_uid" not in response.cookies and "dengage_sid" not in response.cookies
    assert "pageUrl" not in purchase  # the webhook's URL is not the buyer's page


def test_webhook_with_a_browser_like_agent_neither_mints_nor_sets_cookies(alice):
    buyer = browser()
    sign_in(buyer, alice)
    OutboxEvent.objects.all().delete()
    response = webhook(DESKTOP, alice)
    [purchase] = events()
    assert purchase["userId"] == linked(alice)
    assert not response.cookies


def test_explicit_event_from_an_excluded_path_and_a_bot_still_recorded(alice, settings):
    from django.test import RequestFactory

    from dengage_django.tracking.tracker import Tracker

    for path, agent in (("/admin/x/", DESKTOP), ("/", GOOGLEBOT)):
        request = RequestFactory().get(path, HTTP_USER_AGENT=agent)
        request.dengage = Tracker(request)
        assert not request.dengage.active
        event = dengage_django.track("CUSTOM_EVENT", request=request, user=alice, type="t")
        assert event is not None and event.payload["userId"] == linked(alice)


def test_a_bots_own_visitor_events_are_still_dropped():
    from django.test import RequestFactory

    from dengage_django.tracking.tracker import Tracker

    request = RequestFactory().get("/", HTTP_USER_AGENT=GOOGLEBOT)
    request.dengage = Tracker(request)
    assert dengage_django.track("CUSTOM_EVENT", request=request, type="t") is None
    assert not OutboxEvent.objects.exists()


def test_consent_for_the_user_still_applies(alice, settings):
    settings.DENGAGE_USER_CONSENT = lambda user: user.username != "alice"
    assert dengage_django.track("CUSTOM_EVENT", user=alice, type="t") is None
    assert not OutboxEvent.objects.exists()


def test_explicit_ids_in_a_webhook_are_recorded_as_given():
    from django.test import RequestFactory

    from dengage_django.tracking.tracker import Tracker

    request = RequestFactory().post("/webhooks/payment/", HTTP_USER_AGENT=STRIPE)
    request.dengage = Tracker(request)
    assert not request.dengage.active
    event = dengage_django.track(
        "CUSTOM_EVENT", request=request, type="paid", user_id="4711", session_id="s-1"
    )
    assert (event.payload["userId"], event.payload["sessionId"]) == ("4711", "s-1")
    assert "pageUrl" not in event.payload


def test_atrack_records_about_a_user_from_async_code(alice):
    from asgiref.sync import async_to_sync

    event = async_to_sync(dengage_django.atrack)("CUSTOM_EVENT", user=alice, type="async")
    assert event.payload["userId"] == linked(alice)


def test_a_native_apps_api_login_is_recorded_about_the_user(alice):
    client = browser("MyShop/3.1 okhttp/4.12.0")
    response = client.post("/login/", {"username": "alice", "password": "pw"})
    assert not response.cookies.get("dengage_uid")
    [signin] = events("USER_OPERATIONS", "signin")
    assert signin["userId"] == linked(alice) and signin["username"] == "alice"
