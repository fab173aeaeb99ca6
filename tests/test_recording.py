"""dengage_django.track(): validation at record time, strict vs lenient."""

import logging
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import RequestFactory

import dengage_django
from dengage_django.exceptions import DengageValidationError
from dengage_django.models import OutboxEvent

from .conftest import product_view

pytestmark = pytest.mark.django_db


def test_track_stores_the_normalised_wire_event():
    event = dengage_django.track("PRODUCT_VIEW", **product_view(old_price=Decimal("449.99")))
    event.refresh_from_db()
    assert event.status == OutboxEvent.Status.PENDING
    assert event.name == "PRODUCT_VIEW"
    assert event.user_id == "u1"
    assert event.payload == {
        "name": "PRODUCT_VIEW",
        "userId": "u1",
        "sessionId": "s1",
        "productId": "P1",
        "price": 349.99,
        "oldPrice": 449.99,
    }


def test_rolled_back_transaction_records_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        dengage_django.track("PRODUCT_VIEW", **product_view())
        raise RuntimeError("order failed")
    assert OutboxEvent.objects.count() == 0


def test_committed_transaction_records_the_event():
    with transaction.atomic():
        dengage_django.track("PRODUCT_VIEW", **product_view())
    assert OutboxEvent.objects.filter(status="pending").count() == 1


def test_strict_mode_raises_and_stores_nothing():
    with pytest.raises(DengageValidationError, match=r"BASKET_OPERATIONS\.quantity"):
        dengage_django.track(
            "BASKET_OPERATIONS", userId="u", sessionId="s", step="add", productId="P", quantity=-3
        )
    assert OutboxEvent.objects.count() == 0


def test_strict_defaults_to_debug(settings):
    del settings.DENGAGE_STRICT
    settings.DEBUG = True
    with pytest.raises(DengageValidationError):
        dengage_django.track("PRODUCT_VIEW", userId="u", sessionId="s")
    settings.DEBUG = False
    assert dengage_django.track("PRODUCT_VIEW", userId="u", sessionId="s").status == "invalid"


@pytest.mark.parametrize(
    "name, fields, field",
    [
        ("PRODUCT_VIEW", {"price": "abc"}, "price"),
        ("PRODUCT_VIEW", {"productId": None}, "productId"),
        ("NOPE", {}, None),
        ("CHECKOUT", {"step": "pay", "totalPrice": 1, "productList": [{"productId": "a"}]}, "step"),
    ],
)
def test_lenient_mode_keeps_invalid_events_with_their_reason(lenient, caplog, name, fields, field):
    base = product_view() if name == "PRODUCT_VIEW" else {"userId": "u", "sessionId": "s"}
    base.update(fields)
    with caplog.at_level(logging.WARNING, logger="dengage_django"):
        event = dengage_django.track(name, **base)
    event.refresh_from_db()
    assert event.status == OutboxEvent.Status.INVALID
    assert event.name == name
    where = f"{name}.{field}" if field else name
    assert event.last_error.startswith(where + ":")
    assert where in caplog.text


def test_lenient_mode_stores_unserialisable_input_as_text(lenient):
    event = dengage_django.track("CUSTOM_EVENT", userId="u", sessionId="s", type="x", params={1, 2})
    event.refresh_from_db()
    assert event.status == "invalid"
    assert event.payload["params"] == repr({1, 2})


def test_disabled_records_nothing(settings):
    settings.DENGAGE_ENABLED = False
    assert dengage_django.track("PRODUCT_VIEW", **product_view()) is None
    assert OutboxEvent.objects.count() == 0


def test_setting_defaults_fill_common_fields_unless_given(settings):
    settings.DENGAGE_DEFAULT_LANG = "tr"
    settings.DENGAGE_DEFAULT_CURRENCY = "try"
    settings.DENGAGE_TEST_MODE = True
    first = dengage_django.track("PRODUCT_VIEW", **product_view())
    second = dengage_django.track("PRODUCT_VIEW", **product_view(currency="EUR", lang="en"))
    assert (first.payload["lang"], first.payload["currency"]) == ("tr", "TRY")
    assert first.payload["testMode"] is True
    assert (second.payload["lang"], second.payload["currency"]) == ("en", "EUR")


def test_request_fills_page_url_and_referrer_unless_given():
    request = RequestFactory().get("/p/1/?c=red", HTTP_REFERER="https://google.com/")
    event = dengage_django.track("PRODUCT_VIEW", request=request, **product_view())
    assert event.payload["pageUrl"] == "http://testserver/p/1/?c=red"
    assert event.payload["referrer"] == "https://google.com/"
    given = dengage_django.track(
        "PRODUCT_VIEW", request=request, page_url="https://x.test/", **product_view()
    )
    assert given.payload["pageUrl"] == "https://x.test/"


def test_request_with_a_disallowed_host_still_records(settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    request = RequestFactory().get("/", HTTP_HOST="evil.test")
    event = dengage_django.track("PRODUCT_VIEW", request=request, **product_view())
    assert "pageUrl" not in event.payload


def test_user_fills_username_of_user_operations(django_user_model):
    user = django_user_model(username="ayse")
    event = dengage_django.track(
        "USER_OPERATIONS", user=user, userId="u", sessionId="s", step="signin"
    )
    assert event.payload["username"] == "ayse"


def test_storage_failure_in_lenient_mode_does_not_raise(lenient, monkeypatch, caplog):
    from django.db import DatabaseError

    from dengage_django import outbox

    def broken(*args, **kwargs):
        raise DatabaseError("table missing")

    monkeypatch.setattr(outbox, "insert", broken)
    with transaction.atomic():
        assert dengage_django.track("PRODUCT_VIEW", **product_view()) is None
        # The caller's transaction is still usable.
        assert OutboxEvent.objects.count() == 0
    assert "could not store Dengage event(s) PRODUCT_VIEW" in caplog.text


def test_storage_failure_in_strict_mode_raises(monkeypatch):
    from django.db import DatabaseError

    from dengage_django import outbox

    monkeypatch.setattr(outbox, "insert", lambda *a, **k: (_ for _ in ()).throw(DatabaseError("x")))
    with pytest.raises(DatabaseError):
        dengage_django.track("PRODUCT_VIEW", **product_view())
