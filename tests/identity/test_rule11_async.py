"""Rule 11: async views: identity resolved before the view, a-prefixed helpers."""

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from dengage_django.exceptions import DengageError
from dengage_django.tracking.tracker import Tracker

from ..test_tracking import DESKTOP
from .conftest import events, linked

pytestmark = pytest.mark.django_db

HELPERS = [
    "track",
    "product_view",
    "basket_add",
    "basket_remove",
    "checkout",
    "checkout_basket",
    "user_operation",
    "custom_event",
    "page",
]


def test_every_helper_has_an_async_form():
    for name in HELPERS:
        assert callable(getattr(Tracker, "a" + name)), name


def logged_in_async_client(user):
    client = AsyncClient()
    async_to_sync(client.aforce_login)(user)
    return client


@pytest.mark.parametrize("path", ["/async/basket/", "/async/basket-sync/"])
def test_logged_in_visitor_in_an_async_view(alice, path):
    client = logged_in_async_client(alice)
    response = async_to_sync(client.get)(path, headers={"user-agent": DESKTOP})
    assert response.status_code == 200
    adds = events("BASKET_OPERATIONS")
    assert len(adds) == 1 and adds[0]["userId"] == linked(alice)


def test_async_helpers_record_with_the_visitors_ids(alice):
    client = logged_in_async_client(alice)
    async_to_sync(client.get)("/async/basket/", headers={"user-agent": DESKTOP})
    page = [e for e in events() if e["name"] != "USER_OPERATIONS"]  # not the force_login
    names = [e["name"] for e in page]
    assert names == ["PAGE_VIEW", "BASKET_OPERATIONS", "PRODUCT_VIEW", "CHECKOUT", "CUSTOM_EVENT"]
    assert {e["userId"] for e in page} == {linked(alice)}


def test_a_sync_helper_needing_the_database_on_the_loop_says_what_to_call(settings, alice):
    from django.test import RequestFactory

    request = RequestFactory().get("/", HTTP_USER_AGENT=DESKTOP)
    request.user = alice
    tracker = Tracker(request)  # not preloaded: reading the session would hit the DB
    request.session = type("Lazy", (), {"session_key": "k", "get": _db_on_loop, "modified": True})()

    async def call():
        return tracker.basket_add("P1", price=1)

    with pytest.raises(DengageError, match=r"await request\.dengage\.abasket_add"):
        async_to_sync(call)()
    settings.DENGAGE_STRICT = False
    assert async_to_sync(call)() is None


def _db_on_loop(*args):
    from django.core.exceptions import SynchronousOnlyOperation

    raise SynchronousOnlyOperation("You cannot call this from an async context")


def test_an_anonymous_visitors_ids_are_resolved_before_the_async_view(monkeypatch):
    from dengage_django.tracking import identity

    calls = []
    real = identity.new_ids

    def spy(count):
        import asyncio

        try:
            asyncio.get_running_loop()
            calls.append("on the loop")
        except RuntimeError:
            calls.append("in a thread")
        return real(count)

    monkeypatch.setattr(identity, "new_ids", spy)
    response = async_to_sync(AsyncClient().get)(
        "/async/basket-sync/", headers={"user-agent": DESKTOP}
    )
    assert response.status_code == 200 and calls and "on the loop" not in calls
    [page, add] = events()
    assert add["userId"] == page["userId"] == response.cookies["dengage_uid"].value
