"""Rule 1: an event with an explicit user is about that user."""

import datetime

import pytest
from django.utils import timezone

import dengage_django
from dengage_django.exceptions import DengageValidationError
from dengage_django.models import DengageIdentity, OutboxEvent
from dengage_django.tracking.ids import is_valid_id

from ..test_tracking import DESKTOP
from .conftest import browser, events, linked, sign_in

pytestmark = pytest.mark.django_db


def test_staff_edit_outside_the_admin_is_filed_under_the_customer(alice, staff):
    customer_browser = browser()
    sign_in(customer_browser, alice)
    alice_id = customer_browser.cookies["dengage_uid"].value
    staff_browser = browser()
    sign_in(staff_browser, staff)
    staff_browser.get("/")
    [staff_page] = [e for e in events("PAGE_VIEW") if e["userId"] != alice_id]
    OutboxEvent.objects.all().delete()

    staff_browser.post(f"/staff/customers/{alice.pk}/", {"email": "alice@new.example.com"})

    [update] = events("USER_OPERATIONS", "update")
    assert update["userId"] == alice_id != staff_page["userId"]
    assert update["email"] == "alice@new.example.com"
    assert update["sessionId"] != staff_page["sessionId"]


def test_user_created_by_staff_gets_a_fresh_id_not_the_staff_members(staff):
    staff_browser = browser()
    sign_in(staff_browser, staff)
    staff_id = staff_browser.cookies["dengage_uid"].value
    staff_browser.post("/staff/customers/new/", {"username": "carol", "email": "c@example.com"})
    [signup] = events("USER_OPERATIONS", "signup")
    carol = DengageIdentity.objects.get(user__username="carol")
    assert signup["userId"] == carol.dengage_user_id != staff_id
    assert is_valid_id(signup["userId"])


def test_track_outside_a_request_uses_the_linked_id_and_its_own_session(alice):
    client = browser()
    sign_in(client, alice)
    visitor = client.cookies["dengage_uid"].value
    client.get("/")
    [page] = events("PAGE_VIEW")
    event = dengage_django.track("CUSTOM_EVENT", user=alice, type="x")  # no request here
    assert event.payload["userId"] == visitor == linked(alice)
    assert event.payload["sessionId"] != page["sessionId"]  # its own session


def test_track_with_the_requests_own_user_uses_the_visitor_ids(alice):
    from django.test import RequestFactory

    from dengage_django.tracking.tracker import Tracker

    request = RequestFactory().get("/", HTTP_USER_AGENT=DESKTOP)
    request.user, request.session = alice, {}
    request.dengage = Tracker(request)
    event = dengage_django.track("CUSTOM_EVENT", request=request, user=alice, type="x")
    assert event.payload["userId"] == request.dengage.user_id == linked(alice)
    assert event.payload["sessionId"] == request.dengage.session_id
    assert event.payload["pageUrl"] == "http://testserver/"


def test_register_model_user_in_a_staff_request_is_that_user(alice, staff):
    from tests.accounts.models import Order

    def build(order, created, changes):
        return "CUSTOM_EVENT", {"type": "order_saved", "user": order.customer}

    dengage_django.register_model(Order, build)
    try:
        staff_browser = browser()
        sign_in(staff_browser, staff)
        staff_id = staff_browser.cookies["dengage_uid"].value
        staff_browser.post("/staff/orders/new/", {"customer": alice.pk})
    finally:
        dengage_django.unregister_model(Order)
    [saved] = events("CUSTOM_EVENT")
    assert saved["userId"] == linked(alice) != staff_id


def test_a_users_own_session_is_stable_for_a_while_then_renewed(alice):
    first = dengage_django.track("CUSTOM_EVENT", user=alice, type="a").payload
    second = dengage_django.track("CUSTOM_EVENT", user=alice, type="b").payload
    assert first["sessionId"] == second["sessionId"]
    assert first["userId"] == second["userId"] == linked(alice)
    quiet = datetime.timedelta(seconds=30 * 60 + 1)  # the default timeout, passed
    DengageIdentity.objects.filter(user=alice).update(session_seen_at=timezone.now() - quiet)
    third = dengage_django.track("CUSTOM_EVENT", user=alice, type="c").payload
    assert third["sessionId"] != first["sessionId"]
    assert third["userId"] == first["userId"]


def test_no_request_no_user_no_ids_says_what_to_pass():
    with pytest.raises(DengageValidationError, match="pass user="):
        dengage_django.track("CUSTOM_EVENT", type="x")


def test_no_request_no_user_no_ids_lenient_is_kept_invalid_with_the_hint(lenient):
    returned = dengage_django.track("CUSTOM_EVENT", type="x")
    [row] = OutboxEvent.objects.all()
    assert returned.pk == row.pk
    assert row.status == "invalid" and "pass user=" in row.last_error


def test_explicit_ids_without_a_request_are_used_as_given():
    event = dengage_django.track("CUSTOM_EVENT", type="x", user_id="u1", session_id="s1")
    assert (event.payload["userId"], event.payload["sessionId"]) == ("u1", "s1")


def test_anonymous_user_counts_as_no_user():
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(DengageValidationError, match="pass user="):
        dengage_django.track("CUSTOM_EVENT", type="x", user=AnonymousUser())
