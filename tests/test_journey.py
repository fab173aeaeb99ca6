"""A visitor's journey through the test shop, delivered to the fake server."""

import pytest
from django.core.management import call_command
from django.test import Client

from .test_tracking import PHONE

pytestmark = pytest.mark.django_db


def test_journey_produces_exactly_the_expected_events(fake_server):
    visitor = Client(headers={"user-agent": PHONE})
    visitor.get("/")
    visitor.get("/p/1/")
    visitor.post("/basket/add/1/", {"qty": "2"})
    visitor.post("/basket/add/2/", {"qty": "1"})
    visitor.post("/basket/remove/1/")
    for step in ("basket", "customer", "payment"):
        visitor.get(f"/checkout/{step}/")
    visitor.post("/purchase/", {"fail": "1"})  # rolled back
    visitor.post("/purchase/")  # committed
    call_command("send_dengage_outbox", "--no-progress", stdout=open("/dev/null", "w"))

    received = fake_server.events
    summary = [
        (e["name"], e.get("step") or e.get("category"), e.get("productId")) for e in received
    ]
    assert summary == [
        ("PAGE_VIEW", "Home Page", None),
        ("PAGE_VIEW", "Product Page", None),
        ("PRODUCT_VIEW", "Men > Sports", "P1"),
        ("BASKET_OPERATIONS", "add", "P1"),
        ("BASKET_OPERATIONS", "add", "P2"),
        ("BASKET_OPERATIONS", "remove", "P1"),
        ("PAGE_VIEW", "Checkout Page", None),
        ("CHECKOUT", "basket", None),
        ("PAGE_VIEW", "Checkout Page", None),
        ("CHECKOUT", "customer", None),
        ("PAGE_VIEW", "Checkout Page", None),
        ("CHECKOUT", "payment", None),
        ("CHECKOUT", "purchase", None),
    ]
    assert len({(e["userId"], e["sessionId"]) for e in received}) == 1
    assert {e["device"] for e in received} == {"MOBILE"}
    purchase = received[-1]
    assert purchase["totalPrice"] == 374.49 and purchase["orderNo"] == "1001"
    assert purchase["basketId"] == f"basket_{purchase['userId']}"
