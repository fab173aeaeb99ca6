"""Rule 7: one profile, one name: every USER_OPERATIONS step, same fields."""

import pytest

import dengage_django

from .conftest import browser, events, make_user, sign_in

pytestmark = pytest.mark.django_db

USER_FIELDS = ("username", "fullName", "email")


def by_email(user):
    """The README's example for shops that log in by e-mail."""
    return {"username": user.email, "email": user.email, "fullName": user.get_full_name()}


def test_every_step_carries_the_same_user_fields(settings):
    settings.DENGAGE_USER_FIELDS = by_email
    client = browser()
    client.get("/")
    client.post(
        "/signup/",
        {"username": "x7f3k2", "email": "zoe@example.com", "password": "pw", "first_name": "Zoe"},
    )
    client.post("/profile/", {"email": "zoe@new.example.com"})
    client.post("/logout/")
    steps = {e["step"]: e for e in events("USER_OPERATIONS")}
    assert set(steps) == {"signup", "signin", "update", "signout"}
    assert steps["signup"]["username"] == steps["signin"]["username"] == "zoe@example.com"
    assert steps["update"]["username"] == steps["signout"]["username"] == "zoe@new.example.com"
    assert all(e["fullName"] == "Zoe" for e in steps.values())
    assert all("x7f3k2" not in str(e) for e in steps.values())


def test_track_user_operations_with_a_user_uses_the_same_builder(settings):
    settings.DENGAGE_USER_FIELDS = by_email
    user = make_user("r4nd0m", first_name="Yan")
    event = dengage_django.track("USER_OPERATIONS", user=user, step="update")
    assert event.payload["username"] == "r4nd0m@example.com"
    assert event.payload["fullName"] == "Yan"


def test_signin_carries_the_full_default_fields(alice):
    client = browser()
    sign_in(client, alice)
    [signin] = events("USER_OPERATIONS", "signin")
    assert {k: signin.get(k) for k in USER_FIELDS} == {
        "username": "alice",
        "fullName": "Alice",
        "email": "alice@example.com",
    }
