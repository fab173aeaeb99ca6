"""Rule 4: linking accounts and devices; a shared browser."""

import pytest

from dengage_django.models import DengageIdentity
from dengage_django.tracking.ids import link

from .conftest import browser, events, linked, sign_in

pytestmark = pytest.mark.django_db


def sign_out(client):
    client.post("/logout/")


def test_shared_browser_alice_then_bob_are_two_people(alice, bob):
    shared = browser()
    shared.get("/")
    sign_in(shared, alice)
    shared.get("/")
    sign_out(shared)
    shared.get("/")
    sign_in(shared, bob)
    shared.get("/")

    alice_events = [e for e in events() if e["userId"] == linked(alice)]
    bob_events = [e for e in events() if e["userId"] == linked(bob)]
    assert linked(alice) != linked(bob)
    assert {e["sessionId"] for e in alice_events}.isdisjoint(e["sessionId"] for e in bob_events)
    [alice_signout] = events("USER_OPERATIONS", "signout")
    assert alice_signout["userId"] == linked(alice) and alice_signout["username"] == "alice"
    [bob_signin] = [e for e in events("USER_OPERATIONS", "signin") if e["username"] == "bob"]
    assert bob_signin["userId"] == linked(bob)


def test_signout_gives_the_device_fresh_ids(alice):
    client = browser()
    sign_in(client, alice)
    client.get("/")
    response = client.post("/logout/")
    client.get("/")
    *_, before, after = events("PAGE_VIEW")
    [signout] = events("USER_OPERATIONS", "signout")
    assert (signout["userId"], signout["sessionId"]) == (before["userId"], before["sessionId"])
    assert after["userId"] != before["userId"] and after["sessionId"] != before["sessionId"]
    assert response.cookies["dengage_uid"].value == after["userId"]


def test_bob_signing_in_over_alice_without_logout_gets_his_own_id(alice, bob):
    shared = browser()
    shared.get("/")
    device = shared.cookies["dengage_uid"].value
    sign_in(shared, alice)
    assert linked(alice) == device  # unlinked alice takes the device's id
    sign_in(shared, bob)
    assert linked(bob) not in (None, device)
    assert shared.cookies["dengage_uid"].value == linked(bob)


def test_every_sign_in_starts_a_new_session(alice):
    client = browser()
    client.get("/")
    sign_in(client, alice)
    client.get("/")
    first, second = events("PAGE_VIEW")
    [signin] = events("USER_OPERATIONS", "signin")
    assert signin["sessionId"] != first["sessionId"]
    assert second["sessionId"] == signin["sessionId"]


def test_a_linked_user_is_adopted_by_a_new_device(alice):
    link(alice, "4711")
    client = browser()
    client.get("/")
    sign_in(client, alice)
    client.get("/")
    assert events("PAGE_VIEW")[-1]["userId"] == "4711"
    assert client.cookies["dengage_uid"].value == "4711"


def test_anonymous_signup_links_the_visitor_and_keeps_its_history():
    client = browser()
    client.get("/")
    visitor = client.cookies["dengage_uid"].value
    client.post("/signup/", {"username": "dana", "email": "d@example.com", "password": "pw"})
    [signup] = events("USER_OPERATIONS", "signup")
    assert signup["userId"] == visitor
    assert DengageIdentity.objects.get(user__username="dana").dengage_user_id == visitor


def test_signup_on_a_device_linked_to_someone_else_gets_a_fresh_id(alice):
    client = browser()
    client.get("/")
    device = client.cookies["dengage_uid"].value
    link(alice, device)  # alice used this browser and her session ended
    client.post("/signup/", {"username": "erin", "email": "e@example.com", "password": "pw"})
    erin = DengageIdentity.objects.get(user__username="erin").dengage_user_id
    assert erin != device and linked(alice) == device


def test_a_cookie_left_by_someone_else_never_carries_a_logged_in_users_events(alice, bob, settings):
    """alice's session ends without a logout; bob logs in where nothing is
    tracked (an excluded path), then browses and edits his profile."""
    shared = browser()
    sign_in(shared, alice)
    alice_id = shared.cookies["dengage_uid"].value
    shared.cookies.pop("sessionid")  # her session expired; her cookie stays
    settings.DENGAGE_EXCLUDED_PATHS = [r"/login/"]
    sign_in(shared, bob)
    shared.get("/")
    shared.post("/profile/", {"email": "bob@new.example.com"})
    page = events("PAGE_VIEW")[-1]
    [update] = events("USER_OPERATIONS", "update")
    assert page["userId"] == update["userId"] == linked(bob) != alice_id
    assert shared.cookies["dengage_uid"].value == linked(bob)


def test_the_logged_in_check_costs_one_query_per_session(alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = browser()
    sign_in(client, alice)
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "dengage_django_dengageidentity" not in tables
    assert "dengage_django_outboxevent" in tables  # the page view was stored


def test_signout_keeps_the_new_ids_in_cookies_not_a_new_session(alice):
    from django.contrib.sessions.models import Session

    client = browser()
    sign_in(client, alice)
    response = client.post("/logout/")
    assert response.cookies["sessionid"].value == ""  # deleted, not replaced
    assert not Session.objects.exists()
    assert response.cookies["dengage_sid"].value  # the fresh sessionId
