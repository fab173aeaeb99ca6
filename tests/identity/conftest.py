"""Shared pieces of the identity rules' tests (one module per README rule)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from dengage_django.models import DengageIdentity, OutboxEvent

from ..test_tracking import DESKTOP

User = get_user_model()
STRIPE = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def browser(agent=DESKTOP, **kwargs):
    return Client(headers={"user-agent": agent}, **kwargs)


def events(name=None, step=None):
    rows = OutboxEvent.objects.order_by("id")
    if name:
        rows = rows.filter(name=name)
    payloads = [row.payload for row in rows]
    return [p for p in payloads if step is None or p.get("step") == step]


def linked(user):
    return (
        DengageIdentity.objects.filter(user=user).values_list("dengage_user_id", flat=True).first()
    )


def sign_in(client, user):
    """Post the login form, as a browser that loaded it (so has a cookie)."""
    if not client.cookies:
        client.cookies["csrftoken"] = "form-loaded"
    response = client.post("/login/", {"username": user.get_username(), "password": "pw"})
    assert response.status_code == 302
    return response


def make_user(username, **extra):
    """A user created outside any request, with no link and no events left."""
    user = User.objects.create_user(username, f"{username}@example.com", "pw", **extra)
    OutboxEvent.objects.all().delete()
    DengageIdentity.objects.filter(user=user).delete()
    return User.objects.get(pk=user.pk)


@pytest.fixture
def alice(db):
    return make_user("alice", first_name="Alice")


@pytest.fixture
def bob(db):
    return make_user("bob", first_name="Bob")


@pytest.fixture
def staff(db):
    return make_user("staff", is_staff=True, is_superuser=True)
