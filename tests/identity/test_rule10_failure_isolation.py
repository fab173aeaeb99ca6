"""Rule 10: each event of a request stands alone; visitor text never fails."""

import pytest
from django.db import DatabaseError

from dengage_django import outbox
from dengage_django.exceptions import DengageValidationError

from ..test_tracking import DESKTOP
from .conftest import browser, events

pytestmark = pytest.mark.django_db


def test_broken_unicode_in_the_category_keeps_the_basket_add_and_cookies(lenient):
    response = browser().get("/broken/")
    assert response.status_code == 200
    assert "dengage_uid" in response.cookies
    page, add = events()
    assert page["name"] == "PAGE_VIEW" and page["category"] == "Shoes \ufffd"
    assert add["name"] == "BASKET_OPERATIONS" and add["userId"] == page["userId"]


def test_broken_unicode_from_the_shops_code_raises_in_strict_mode():
    with pytest.raises(DengageValidationError, match="category"):
        browser().get("/broken/")


@pytest.mark.parametrize("strict", [True, False])
def test_visitor_text_never_fails_even_in_strict_mode(settings, strict):
    settings.DENGAGE_STRICT = strict
    client = browser()
    long_query = "q=" + "x" * 5000 + "%00%ED%A0%BD"
    response = client.get(f"/?{long_query}", HTTP_REFERER="https://r.example/?" + "y" * 5000)
    assert response.status_code == 200
    [page] = events("PAGE_VIEW")
    assert len(page["pageUrl"]) == len(page["referrer"]) == 2048
    assert "\x00" not in page["pageUrl"]


def test_a_failing_page_view_loses_neither_other_events_nor_cookies(lenient, monkeypatch):
    from dengage_django.tracking.tracker import Tracker

    def broken(self):
        raise RuntimeError("page view broke")

    monkeypatch.setattr(Tracker, "record_page_view", broken)
    response = browser().get("/broken/?c=Shoes")  # a basket add, then the page view
    assert "dengage_sid" in response.cookies and "dengage_uid" in response.cookies
    [add] = events()
    assert add["name"] == "BASKET_OPERATIONS"
    assert add["userId"] == response.cookies["dengage_uid"].value


def test_one_unstorable_row_loses_only_itself(lenient, monkeypatch):
    real_insert = outbox.insert

    def insert(rows):
        if any(row.name == "PAGE_VIEW" for row in rows):
            raise DatabaseError("row rejected")
        return real_insert(rows)

    monkeypatch.setattr(outbox, "insert", insert)
    client = browser()
    client.get("/")
    client.post("/basket/add/1/", {"qty": 1})
    client.get("/")  # the redirect target, tracked, with its page view failing
    assert [e["name"] for e in events()] == ["BASKET_OPERATIONS"]


def test_an_empty_basket_records_nothing_in_strict_mode(settings):
    settings.DEBUG = True
    response = browser().get("/basket/empty/")
    assert response.status_code == 200
    assert [e["name"] for e in events()] == ["PAGE_VIEW"]


def test_checkout_helper_with_no_products_records_nothing():
    from django.test import RequestFactory

    from dengage_django.tracking.tracker import Tracker

    request = RequestFactory().get("/", HTTP_USER_AGENT=DESKTOP)
    tracker = Tracker(request)
    assert tracker.checkout("basket", total_price=0, products=[]) is None
    assert events() == []


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_page_view_reaches_dengage_first(settings):
    from django.db import connections

    connections["default"].settings_dict["ATOMIC_REQUESTS"] = True
    try:
        browser().get("/p/1/")
    finally:
        connections["default"].settings_dict["ATOMIC_REQUESTS"] = False
    assert [e["name"] for e in events()] == ["PAGE_VIEW", "PRODUCT_VIEW"]


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_rolled_back_view_records_none_of_its_events(settings, lenient):
    from django.db import connections

    connections["default"].settings_dict["ATOMIC_REQUESTS"] = True
    client = browser()
    client.raise_request_exception = False
    try:
        response = client.get("/fail/")  # records a PRODUCT_VIEW, then raises
    finally:
        connections["default"].settings_dict["ATOMIC_REQUESTS"] = False
    assert response.status_code == 500
    assert events() == []
