"""A visitor's whole journey through the Oscar test shop over HTTP, the
outbox drained to the fake data center: what Dengage receives."""

import io
from collections import Counter

import pytest
from django.core.management import call_command
from oscar.core.loading import get_model

from example_project.oscar.demo import EXPECTED

from .shop import (
    add,
    browser,
    checkout,
    lines_of,
    product,
    register,
    sign_in,
    sign_out,
    update_basket,
)

pytestmark = pytest.mark.django_db


def test_browse_buy_as_a_guest_register_and_sign_in_again(fake_server):
    shoe = product("Trail Runner", "89.90", category="Men > Sports > Shoes")
    sock = product("Wool Sock", "9.50", category="Men > Socks")
    client = browser()
    client.get("/catalogue/")
    client.get(get_model("catalogue", "Category").objects.get(name="Shoes").get_absolute_url())
    client.get(shoe.get_absolute_url())
    client.get("/search/?q=sock")
    client.get(sock.get_absolute_url())
    add(client, shoe, 2)
    add(client, sock, 3)
    shoe_line, sock_line = sorted(lines_of(client), key=lambda line: line.product_id != shoe.pk)
    update_basket(client, {shoe_line: 1, sock_line: 3})  # one shoe less
    client.get("/basket/")
    checkout(client, guest_email="ada@example.com")
    client.get("/checkout/thank-you/")  # reloaded: still one purchase
    client.get("/accounts/login/")
    register(client, "ada@example.com")  # and signed in by Oscar
    sign_out(client)
    sign_in(client, "ada@example.com")
    call_command("send_dengage_outbox", "--no-progress", stdout=io.StringIO())

    events = fake_server.events
    kinds = Counter((e["name"], e.get("step")) for e in events)
    assert kinds[("CHECKOUT", "purchase")] == 1
    for kind in EXPECTED:  # what make demo-oscar checks too
        assert kinds[kind] >= 1, (kind, kinds)
    assert {e["userId"] for e in events} == {events[0]["userId"]}  # one visitor, one id
    assert {e.get("currency") for e in events} == {"EUR"}

    def first(name, **where):
        return next(e for e in events if e["name"] == name and where.items() <= e.items())

    categories = [e.get("category") for e in events if e["name"] == "PAGE_VIEW"]
    assert {"Category Page", "Product Page", "Search Page", "Basket Page", "Checkout Page"} <= set(
        categories
    )
    assert first("PAGE_VIEW", subCategory="Men > Sports > Shoes")
    view = first("PRODUCT_VIEW", productId=str(shoe.pk))
    assert (view["price"], view["categories"], view["inStock"]) == (
        89.9,
        ["Men > Sports > Shoes"],
        True,
    )
    assert first("SEARCH")["query"] == "sock"
    remove = first("BASKET_OPERATIONS", step="remove")
    assert (remove["productId"], remove["quantity"]) == (str(shoe.pk), 1)
    purchase = first("CHECKOUT", step="purchase")
    order = get_model("order", "Order").objects.get()
    assert purchase["orderNo"] == order.number
    assert purchase["totalPrice"] == 89.9 + 3 * 9.5
    assert sorted((p["productId"], p["quantity"]) for p in purchase["productList"]) == sorted(
        [(str(shoe.pk), 1), (str(sock.pk), 3)]
    )
    assert first("USER_OPERATIONS", step="signup")["username"] == "ada@example.com"
    assert [e["step"] for e in events if e["name"] == "USER_OPERATIONS"] == [
        "signup",
        "signin",
        "signout",
        "signin",
    ]
