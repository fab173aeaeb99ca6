"""Rule 9: privacy: contact details and consent, in and out of requests."""

import pytest

import dengage_django
from dengage_django.models import DengageIdentity, OutboxEvent

from .conftest import User, browser, events, make_user, sign_in

pytestmark = pytest.mark.django_db


def test_no_email_leaves_under_any_name_when_contact_details_are_off(settings):
    settings.DENGAGE_SEND_CONTACT_DETAILS = False
    user = User.objects.create_user("zeynep@example.com", "zeynep@example.com", "pw")
    client = browser()
    sign_in(client, user)
    dengage_django.track(
        "CUSTOM_EVENT", user=user, type="x", params={"contact": "z@example.com", "ok": 1}
    )
    dengage_django.track("USER_OPERATIONS", user=user, step="update", phone_number="+90555")
    sent = [row.payload for row in OutboxEvent.objects.all()]
    assert sent and "@" not in str(sent)
    assert "+90555" not in str(sent)
    signin = next(e for e in sent if e.get("step") == "signin")
    assert signin["username"] == str(user.pk)


def test_signup_without_consent_is_remembered_for_later_saves(settings):
    settings.DENGAGE_CONSENT = lambda request: request.COOKIES.get("consent") == "yes"
    client = browser()
    client.cookies["consent"] = "no"
    client.get("/")
    client.post("/signup/", {"username": "nina", "email": "n@example.com", "password": "pw"})
    nina = User.objects.get(username="nina")
    assert DengageIdentity.objects.get(user=nina).consent is False
    nina.first_name = "Nina"
    nina.save()  # outside a request
    assert events() == []


def test_consent_given_later_is_remembered_once(settings):
    settings.DENGAGE_CONSENT = lambda request: request.COOKIES.get("consent") == "yes"
    user = make_user("omar")
    client = browser()
    client.cookies["consent"] = "no"
    client.get("/")
    sign_in(client, user)
    assert DengageIdentity.objects.get(user=user).consent is False
    client.cookies["consent"] = "yes"
    client.get("/")
    assert DengageIdentity.objects.get(user=user).consent is True
    user.first_name = "Omar"
    user.save()
    [update] = events("USER_OPERATIONS", "update")
    assert update["fullName"] == "Omar"


def test_user_consent_callable_decides_outside_requests(settings, alice):
    settings.DENGAGE_USER_CONSENT = "tests.identity.test_rule09_privacy.only_opted_in"
    alice.first_name = "Alicia"
    alice.save()
    assert events() == []
    alice.last_name = "Opted-In"
    alice.save()
    assert [e["step"] for e in events()] == ["update"]


def only_opted_in(user):
    return user.last_name == "Opted-In"


def test_users_never_seen_default_to_the_visitor_consent_regime(settings, alice):
    assert dengage_django.track("CUSTOM_EVENT", user=alice, type="x") is not None
    settings.DENGAGE_CONSENT = lambda request: True
    assert dengage_django.track("CUSTOM_EVENT", user=alice, type="y") is None


def test_contact_details_hidden_inside_text_urls_and_lists_are_cut_out(settings):
    settings.DENGAGE_SEND_CONTACT_DETAILS = False
    event = dengage_django.track(
        "CUSTOM_EVENT",
        user_id="u1",
        session_id="s1",
        type="newsletter",
        page_url="https://shop.example.com/?email=zz%40example.com&utm=mail",
        params={"to": ["a@b.com", "ok"], "note": "mail me at x.y@example.co.uk please"},
    ).payload
    assert "example.com/?email=[withheld]&utm=mail" in event["pageUrl"]
    assert event["params"] == {"to": ["[withheld]", "ok"], "note": "mail me at [withheld] please"}


def test_a_url_with_an_at_sign_is_kept(settings):
    settings.DENGAGE_SEND_CONTACT_DETAILS = False
    url = "https://shop.example.com/@stride.co/profile"
    event = dengage_django.track("PAGE_VIEW", user_id="u1", session_id="s1", page_url=url)
    assert event.payload["pageUrl"] == url


def test_a_phone_number_username_becomes_the_users_pk(settings):
    settings.DENGAGE_SEND_CONTACT_DETAILS = False
    user = make_user("+90 555 123 45 67")
    event = dengage_django.track("USER_OPERATIONS", user=user, step="update").payload
    assert event["username"] == str(user.pk)
    assert "email" not in event and "phone" not in event
    assert "555 123" not in str(event)  # the ids are hex: no spaces
