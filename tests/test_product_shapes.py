"""Every helper takes a product the same ways: an id, a mapping, a
``to_dengage()`` object, or anything through DENGAGE_PRODUCT_ADAPTER."""

from decimal import Decimal

import pytest
from django.test import RequestFactory

from dengage_django.exceptions import DengageValidationError
from dengage_django.tracking.tracker import Tracker

from .test_tracking import DESKTOP
from .views import PRODUCTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def tracker():
    return Tracker(RequestFactory().get("/", HTTP_USER_AGENT=DESKTOP))


def test_basket_add_takes_a_to_dengage_object(tracker):
    event = tracker.basket_add(PRODUCTS[1], quantity=2)
    assert (event.payload["productId"], event.payload["price"]) == ("P1", 349.99)
    assert event.payload["quantity"] == 2


def test_basket_add_takes_a_mapping_and_given_fields_win(tracker):
    product = {"productId": "P7", "price": Decimal("10.00"), "currency": "EUR", "title": "x"}
    event = tracker.basket_add(product, price=Decimal("8.50"))
    assert (event.payload["productId"], event.payload["price"]) == ("P7", 8.5)
    assert event.payload["currency"] == "EUR"


def test_basket_add_takes_an_adapter(tracker, settings):
    settings.DENGAGE_PRODUCT_ADAPTER = lambda obj: {"product_id": f"SKU-{obj}", "price": 3}
    event = tracker.basket_add(object.__new__(type("Model", (), {"__str__": lambda s: "9"})))
    assert event.payload["productId"] == "SKU-9"


@pytest.mark.parametrize("product_id", ["P1", 42])
def test_an_id_still_works_positionally_and_by_keyword(tracker, product_id):
    assert tracker.basket_add(product_id).payload["productId"] == str(product_id)
    assert tracker.basket_add(product_id=product_id).payload["productId"] == str(product_id)


def test_basket_remove_takes_a_product_and_sends_no_price(tracker):
    event = tracker.basket_remove(PRODUCTS[2])
    assert event.payload["productId"] == "P2" and "price" not in event.payload


def test_an_unreadable_product_is_invalid_lenient_and_raises_strict(tracker, settings):
    with pytest.raises(DengageValidationError, match="cannot read a product"):
        tracker.basket_add(3.5)
    settings.DENGAGE_STRICT = False
    event = tracker.basket_add(3.5)
    assert event.status == "invalid"
