"""request.dengage's helpers beyond the happy path: an inactive tracker
records nothing, unreadable input in lenient mode, the async forms the
test views do not use, the deferred flush falling back to one row at a
time, and a failed immediate store."""

import pytest
from asgiref.sync import async_to_sync
from django.db import DatabaseError
from django.test import RequestFactory
from django.utils import translation

from dengage_django import outbox
from dengage_django.exceptions import DengageValidationError
from dengage_django.models import OutboxEvent
from dengage_django.tracking.tracker import Tracker

from .test_tracking import DESKTOP
from .views import BASKET, PRODUCTS

pytestmark = pytest.mark.django_db


def tracker(path="/", **kwargs):
    return Tracker(RequestFactory().get(path, HTTP_USER_AGENT=DESKTOP), **kwargs)


def stored():
    return list(OutboxEvent.objects.order_by("id").values_list("name", "status"))


def test_repr_names_the_request_and_whether_it_records():
    assert repr(tracker("/p/1/")) == "<Tracker GET '/p/1/' active=True>"


def test_a_disabled_app_gives_an_inactive_tracker_that_records_nothing(settings):
    settings.DENGAGE_ENABLED = False
    t = tracker()
    assert (t.active, t.untracked_reason) == (False, "disabled")
    assert t.record_page_view() is None
    assert t.product_view(PRODUCTS[1]) is None
    assert t.basket_add("P1", price=10) is None
    assert t.basket_remove("P1") is None
    assert t.checkout("basket", total_price=10, products=[PRODUCTS[1]]) is None
    assert t.checkout_basket("basket", BASKET) is None
    assert t.user_operation("signin") is None
    t.preload()  # an untracked request reads nothing: no ids minted
    assert not t.identity.resolved and t.identity.user_id is None
    assert stored() == []


def test_the_page_view_is_recorded_once():
    t = tracker()
    first = t.record_page_view()
    assert first is not None and first.name == "PAGE_VIEW"
    assert t.record_page_view() is None
    assert stored() == [("PAGE_VIEW", "pending")]


def test_without_an_active_language_no_lang_is_sent():
    with translation.override(None):
        event = tracker().track("PAGE_VIEW")
    assert "lang" not in event.payload
    with translation.override("tr"):
        assert tracker().track("PAGE_VIEW").payload["lang"] == "tr"


def test_a_basket_id_given_is_kept():
    event = tracker().basket_add("P1", price=10, basket_id="B-77")
    assert event.payload["basketId"] == "B-77"


def test_unreadable_input_is_kept_invalid_when_lenient(lenient):
    t = tracker()
    removed = t.basket_remove(3.5)
    assert removed.status == "invalid" and "cannot read a product" in removed.last_error
    whole = t.checkout_basket("basket", {"total_price": 5})
    assert whole.status == "invalid" and "no products" in whole.last_error
    listed = t.checkout("basket", total_price=5, products=[object()])
    assert listed.status == "invalid"
    assert stored() == [
        ("BASKET_OPERATIONS", "invalid"),
        ("CHECKOUT", "invalid"),
        ("CHECKOUT", "invalid"),
    ]


def test_unreadable_input_raises_when_strict():
    with pytest.raises(DengageValidationError, match="cannot read a product"):
        tracker().basket_remove(3.5)
    assert stored() == []


def test_async_forms_record_like_the_sync_ones():
    t = tracker()
    async_to_sync(t.apage)("Basket Page", "Runner")
    assert (t.category, t.sub_category) == ("Basket Page", "Runner")
    removed = async_to_sync(t.abasket_remove)("P1")
    checkout = async_to_sync(t.acheckout)("purchase", total_price=10, products=[PRODUCTS[1]])
    signin = async_to_sync(t.auser_operation)("signin", username="ada")
    assert removed.payload["step"] == "remove" and "price" not in removed.payload
    assert checkout.payload["productList"] == [{"productId": "P1", "price": 349.99, "quantity": 1}]
    assert signin.payload["step"] == "signin"
    assert stored() == [
        ("BASKET_OPERATIONS", "pending"),
        ("CHECKOUT", "pending"),
        ("USER_OPERATIONS", "pending"),
    ]


@pytest.mark.django_db(transaction=True)
def test_flush_stores_one_by_one_when_the_batch_fails_so_a_bad_row_loses_only_itself(
    lenient, monkeypatch
):
    real_insert = outbox.insert

    def insert(events):
        if any(event.payload.get("productId") == "BAD" for event in events):
            raise DatabaseError("value too long for type character varying(32)")
        return real_insert(events)

    monkeypatch.setattr(outbox, "insert", insert)
    t = tracker(deferred=True)
    t.product_view({"productId": "P1"})
    t.product_view({"productId": "BAD"})
    t.product_view({"productId": "P2"})
    assert stored() == []  # deferred until the response
    lost = t.flush()
    assert [event.payload["productId"] for event in lost] == ["BAD"]
    kept = list(OutboxEvent.objects.order_by("id").values_list("payload__productId", flat=True))
    assert kept == ["P1", "P2"]
    assert t.flush() == []


def test_a_failed_immediate_store_returns_none_when_lenient(lenient, monkeypatch):
    def insert(events):
        raise DatabaseError("disk full")

    monkeypatch.setattr(outbox, "insert", insert)
    t = tracker()
    assert t.user_operation("signin") is None
    assert t.events == []


def test_a_failed_immediate_store_raises_when_strict(monkeypatch):
    def insert(events):
        raise DatabaseError("disk full")

    monkeypatch.setattr(outbox, "insert", insert)
    with pytest.raises(DatabaseError, match="disk full"):
        tracker().user_operation("signin")
