"""Baskets, checkout and orders of an Oscar shop as Dengage events."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from oscar.core.loading import get_class, get_model

from dengage_django.models import OutboxEvent
from dengage_django.tracking.context import current_tracker
from dengage_django.tracking.tracker import Tracker

from .shop import (
    DESKTOP,
    add,
    browser,
    checkout,
    lines_of,
    product,
    recorded,
    update_basket,
    update_saved,
)

pytestmark = pytest.mark.django_db

Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")


@pytest.fixture
def shoe():
    return product("Trail Runner", "89.90", category="Men > Sports > Shoes")


@pytest.fixture
def sock():
    return product("Wool Sock", "9.50")


def removals():
    return [(r["productId"], r["quantity"]) for r in recorded("BASKET_OPERATIONS", step="remove")]


# -- removals ----------------------------------------------------------------------


def test_lowering_a_quantity_and_deleting_a_line_are_removals(shoe, sock):
    client = browser()
    add(client, shoe, 3)
    add(client, sock, 2)
    shoe_line, sock_line = sorted(lines_of(client), key=lambda line: line.product_id != shoe.pk)
    update_basket(client, {shoe_line: 1, sock_line: 2})
    assert removals() == [(str(shoe.pk), 2)]
    update_basket(client, {shoe_line: 1, sock_line: 0})  # 0 deletes the line
    assert removals() == [(str(shoe.pk), 2), (str(sock.pk), 2)]
    [remove] = recorded("BASKET_OPERATIONS", step="remove", productId=str(sock.pk))
    assert remove["userId"] == recorded("BASKET_OPERATIONS", step="add")[0]["userId"]
    assert "price" not in remove


def test_raising_a_quantity_on_the_basket_page_is_an_add(shoe):
    client = browser()
    add(client, shoe)
    [line] = lines_of(client)
    update_basket(client, {line: 4})
    update_basket(client, {line: 2})
    assert operations() == [
        ("add", str(shoe.pk), 1),
        ("add", str(shoe.pk), 3),
        ("remove", str(shoe.pk), 2),
    ]
    raised = recorded("BASKET_OPERATIONS")[1]
    assert (raised["price"], raised["currency"]) == (89.9, "EUR")


def test_adding_a_product_already_in_the_basket_is_one_add(shoe):
    client = browser()
    add(client, shoe, 1)
    add(client, shoe, 2)  # Oscar raises the line and sends basket_addition
    assert [line.quantity for line in lines_of(client)] == [3]
    assert operations() == [("add", str(shoe.pk), 1), ("add", str(shoe.pk), 2)]


def test_merging_the_anonymous_basket_at_login_removes_nothing(shoe, sock):
    customer = get_user_model().objects.create_user("c1", "ada@example.com", "s3cret-Passw0rd")
    # The customer's own basket holds a shoe; as an anonymous visitor they
    # add a shoe (Oscar deletes that line in the merge) and a sock (moved).
    client = browser()
    client.force_login(customer)
    add(client, shoe)
    client.logout()
    add(client, shoe, 2)
    add(client, sock)
    from .shop import sign_in

    sign_in(client, "ada@example.com")
    lines = lines_of(client)  # the merge happens on the first basket read
    assert sorted((line.product_id, line.quantity) for line in lines) == sorted(
        [(shoe.pk, 2), (sock.pk, 1)]
    )
    assert Basket.objects.filter(status=Basket.MERGED).count() == 1
    # Oscar raised the customer's shoe line to 2 and deleted the anonymous
    # one: no add, no remove.
    assert operations() == [
        ("add", str(shoe.pk), 1),
        ("add", str(shoe.pk), 2),
        ("add", str(sock.pk), 1),
    ]


def test_saving_a_line_for_later_removes_it_from_the_basket(shoe, sock):
    customer = get_user_model().objects.create_user("c2", "bo@example.com", "s3cret-Passw0rd")
    client = browser()
    client.force_login(customer)
    add(client, shoe, 2)
    add(client, sock)
    shoe_line, sock_line = sorted(lines_of(client), key=lambda line: line.product_id != shoe.pk)
    update_basket(client, {shoe_line: 2, sock_line: 1}, {shoe_line: {"save_for_later": "on"}})
    assert removals() == [(str(shoe.pk), 2)]


def test_removals_outside_a_visitors_request_are_not_recorded(shoe):
    client = browser()
    add(client, shoe, 2)
    Line = get_model("basket", "Line")
    Line.objects.all().delete()  # a cleanup job's
    assert removals() == []


# -- checkout steps ------------------------------------------------------------------


def test_the_basket_page_with_lines_is_the_basket_step(shoe, sock):
    client = browser()
    client.get("/basket/")
    assert recorded("CHECKOUT") == []  # an empty basket: no step
    add(client, shoe, 2)
    add(client, sock)
    client.get("/basket/")
    [step] = recorded("CHECKOUT")
    assert step["step"] == "basket"
    assert step["totalPrice"] == 189.3 and step["currency"] == "EUR"
    assert sorted(
        (p["productId"], p["quantity"], p["price"]) for p in step["productList"]
    ) == sorted([(str(shoe.pk), 2, 89.9), (str(sock.pk), 1, 9.5)])
    [page] = recorded("PAGE_VIEW", pageUrl="http://testserver/basket/")[-1:]
    assert step["userId"] == page["userId"] and step["basketId"] == f"basket_{page['userId']}"


def test_a_guest_checkout_records_its_steps_and_one_purchase(shoe, sock):
    client = browser()
    add(client, shoe, 2)
    add(client, sock)
    checkout(client, guest_email="guest@example.com")
    client.get("/checkout/thank-you/")  # reloaded
    steps = [event["step"] for event in recorded("CHECKOUT")]
    assert steps == ["customer", "payment", "purchase"]
    [purchase] = recorded("CHECKOUT", step="purchase")
    order = Order.objects.get()
    assert purchase["orderNo"] == str(order.number)
    assert purchase["totalPrice"] == float(order.total_incl_tax) == 189.3
    assert purchase["currency"] == "EUR"
    assert purchase["shipment"] == 0 and purchase["tax"] == 0 and purchase["totalDiscount"] == 0
    assert "coupon" not in purchase
    assert sorted((p["productId"], p["quantity"], p["price"]) for p in purchase["productList"]) == (
        sorted([(str(shoe.pk), 2, 89.9), (str(sock.pk), 1, 9.5)])
    )
    user_ids = {event["userId"] for event in OutboxEvent.objects.values_list("payload", flat=True)}
    assert len(user_ids) == 1
    pages = [p["category"] for p in recorded("PAGE_VIEW") if "checkout" in p["pageUrl"]]
    assert set(pages) == {"Checkout Page"} and len(pages) >= 4  # thank-you pages included


def test_a_customer_entering_the_checkout_is_the_customer_step(shoe):
    customer = get_user_model().objects.create_user("c3", "cy@example.com", "s3cret-Passw0rd")
    client = browser()
    client.force_login(customer)
    add(client, shoe)
    checkout(client)
    assert [event["step"] for event in recorded("CHECKOUT")] == ["customer", "payment", "purchase"]


def test_a_voucher_is_the_purchases_coupon_and_discount(shoe):
    from oscar.test.factories import create_voucher

    create_voucher(code="SPRING")
    client = browser()
    add(client, shoe)
    assert client.post("/basket/vouchers/add/", {"code": "SPRING"}).status_code == 302
    checkout(client, guest_email="guest@example.com")
    [purchase] = recorded("CHECKOUT", step="purchase")
    order = Order.objects.get()
    assert purchase["coupon"] == "SPRING"
    assert order.total_discount_incl_tax > 0
    assert purchase["totalDiscount"] == float(order.total_discount_incl_tax)
    assert purchase["totalPrice"] == float(order.total_incl_tax)


def _place_order(basket, request):
    """Oscar's order placement, as its checkout view calls it."""
    from oscar.apps.shipping.methods import Free
    from oscar.core.prices import Price

    OrderCreator = get_class("order.utils", "OrderCreator")
    shipping = Free()
    charge = shipping.calculate(basket)
    total = Price(
        currency=basket.currency,
        excl_tax=basket.total_excl_tax + charge.excl_tax,
        incl_tax=basket.total_incl_tax + charge.incl_tax,
    )
    return OrderCreator().place_order(basket, total, shipping, charge, user=None, request=request)


def _visitor_basket(shoe, rf):
    from oscar.apps.partner.strategy import Default

    request = rf.get("/checkout/preview/", HTTP_USER_AGENT=DESKTOP, HTTP_ACCEPT="text/html")
    request.user = AnonymousUser()
    request.session = SessionStore()
    basket = Basket.objects.create()
    basket.strategy = Default(request)
    basket.add_product(shoe, 1)
    return request, basket


def test_a_rolled_back_order_records_no_purchase(shoe, rf):
    request, basket = _visitor_basket(shoe, rf)
    tracker = request.dengage = Tracker(request, deferred=True)
    token = current_tracker.set(tracker)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            _place_order(basket, request)
            assert recorded("CHECKOUT", step="purchase")  # stored at once, inside
            raise RuntimeError("the payment failed after the order was written")
        assert Order.objects.count() == 0
        assert recorded("CHECKOUT") == []
        order = _place_order(basket, request)
    finally:
        current_tracker.reset(token)
    [purchase] = recorded("CHECKOUT", step="purchase")
    assert purchase["orderNo"] == str(order.number)
    assert purchase["userId"] == tracker.user_id


def test_an_order_placed_away_from_a_browser_is_the_customers(shoe):
    from dengage_django.contrib.oscar.receivers import on_order_placed
    from dengage_django.tracking.ids import link

    customer = get_user_model().objects.create_user("c4", "di@example.com", "s3cret-Passw0rd")
    link(customer, "u-di-1")
    client = browser()
    add(client, shoe)
    checkout(client, guest_email="guest@example.com")
    order = Order.objects.get()
    OutboxEvent.objects.all().delete()
    on_order_placed(sender=None, order=order, user=customer)  # a payment callback's
    [purchase] = recorded("CHECKOUT", step="purchase")
    assert purchase["userId"] == "u-di-1"
    OutboxEvent.objects.all().delete()
    on_order_placed(sender=None, order=order, user=None)  # a guest's: nobody to file it under
    assert recorded("CHECKOUT") == []


# -- the saved-for-later basket --------------------------------------------------------


def _saved_lines():
    return list(get_model("basket", "Line").objects.filter(basket__status=Basket.SAVED))


def operations():
    return [
        (event["step"], event["productId"], event["quantity"])
        for event in recorded("BASKET_OPERATIONS")
    ]


@pytest.fixture
def customer_client():
    customer = get_user_model().objects.create_user("c5", "ed@example.com", "s3cret-Passw0rd")
    client = browser()
    client.force_login(customer)
    return client


def test_a_saved_line_moved_back_is_an_add(shoe, sock, customer_client):
    client = customer_client
    add(client, shoe, 2)
    add(client, sock)
    shoe_line, sock_line = sorted(lines_of(client), key=lambda line: line.product_id != shoe.pk)
    update_basket(client, {shoe_line: 2, sock_line: 1}, {shoe_line: {"save_for_later": "on"}})
    [saved] = _saved_lines()
    update_saved(client, [saved], move=[saved])
    assert operations() == [
        ("add", str(shoe.pk), 2),
        ("add", str(sock.pk), 1),
        ("remove", str(shoe.pk), 2),
        ("add", str(shoe.pk), 2),
    ]
    [back] = recorded("BASKET_OPERATIONS")[-1:]
    assert (back["price"], back["currency"]) == (89.9, "EUR")


def test_a_saved_line_moved_back_onto_the_same_product_is_an_add(shoe, customer_client):
    client = customer_client
    add(client, shoe, 2)
    [line] = lines_of(client)
    update_basket(client, {line: 2}, {line: {"save_for_later": "on"}})
    add(client, shoe, 1)  # the same product again: a new line
    [saved] = _saved_lines()
    update_saved(client, [saved], move=[saved])  # Oscar raises the line, deletes the saved one
    assert [line.quantity for line in lines_of(client)] == [3]
    assert operations() == [
        ("add", str(shoe.pk), 2),
        ("remove", str(shoe.pk), 2),
        ("add", str(shoe.pk), 1),
        ("add", str(shoe.pk), 2),
    ]


def test_deleting_a_saved_line_removes_nothing_more(shoe, customer_client):
    client = customer_client
    add(client, shoe, 2)
    [line] = lines_of(client)
    update_basket(client, {line: 2}, {line: {"save_for_later": "on"}})
    [saved] = _saved_lines()
    update_saved(client, [saved], delete=[saved])
    assert _saved_lines() == []
    assert operations() == [("add", str(shoe.pk), 2), ("remove", str(shoe.pk), 2)]


# -- taxes, ids, failures ------------------------------------------------------------------


@pytest.fixture
def us_tax(monkeypatch):
    """Oscar's sample US strategy: the tax is known only at checkout."""
    from oscar.apps.partner import strategy

    monkeypatch.setattr(
        strategy.Selector,
        "strategy",
        lambda self, request=None, user=None, **kw: strategy.US(request),
    )


def test_a_basket_whose_tax_is_not_known_is_priced_without_tax(shoe, us_tax, settings):
    settings.DENGAGE_STRICT = True  # a failure would be a server error
    client = browser()
    client.get(shoe.get_absolute_url())
    add(client, shoe, 2)
    assert client.get("/basket/").status_code == 200
    views = recorded("PRODUCT_VIEW")
    [step] = recorded("CHECKOUT")
    assert {view["price"] for view in views} == {89.9}  # excl. tax, as the shop shows it
    assert step["totalPrice"] == 179.8
    assert [(p["price"], p["quantity"]) for p in step["productList"]] == [(89.9, 2)]


def test_a_product_id_setting_names_products_in_every_event(shoe, settings):
    settings.DENGAGE_OSCAR_PRODUCT_ID = lambda product: f"SKU-{product.pk}"
    client = browser()
    client.get(shoe.get_absolute_url())
    add(client, shoe, 2)
    [line] = lines_of(client)
    update_basket(client, {line: 1})
    checkout(client, guest_email="guest@example.com")
    sku = f"SKU-{shoe.pk}"
    assert recorded("PRODUCT_VIEW")[0]["productId"] == sku
    assert {event["productId"] for event in recorded("BASKET_OPERATIONS")} == {sku}
    for step in recorded("CHECKOUT"):
        assert [p["productId"] for p in step["productList"]] == [sku], step["step"]


def test_a_failing_purchase_never_fails_the_placed_order_in_strict_mode(
    shoe, settings, monkeypatch, caplog
):
    from dengage_django.contrib.oscar import baskets

    settings.DENGAGE_STRICT = True

    def broken(order):
        raise RuntimeError("the order could not be described")

    monkeypatch.setattr(baskets, "order_fields", broken)
    client = browser()
    add(client, shoe)
    checkout(client, guest_email="guest@example.com")  # to the thank-you page
    assert Order.objects.count() == 1
    assert recorded("CHECKOUT", step="purchase") == []
    assert "the order could not be described" in caplog.text


def test_a_failing_basket_page_step_raises_in_strict_mode(shoe, settings, monkeypatch):
    from dengage_django.contrib.oscar import pages

    settings.DENGAGE_STRICT = True
    monkeypatch.setattr(pages, "basket_fields", lambda basket: 1 / 0)
    client = browser()
    add(client, shoe)
    with pytest.raises(ZeroDivisionError):
        client.get("/basket/")


def test_a_note_that_fails_loses_only_its_own_price(shoe, sock, customer_client, monkeypatch):
    from dengage_django.contrib.oscar import pages

    def unpriced(product, request):
        raise RuntimeError("a forked strategy failed")

    client = customer_client
    add(client, shoe, 2)
    add(client, sock)
    shoe_line, sock_line = sorted(lines_of(client), key=lambda line: line.product_id != shoe.pk)
    update_basket(client, {shoe_line: 2, sock_line: 1}, {shoe_line: {"save_for_later": "on"}})
    monkeypatch.setattr(pages, "price_fields", unpriced)
    [saved] = _saved_lines()
    update_saved(client, [saved], move=[saved])
    [back] = recorded("BASKET_OPERATIONS")[-1:]
    assert (back["step"], back["quantity"]) == ("add", 2) and "price" not in back


def test_removals_of_a_request_that_failed_are_not_recorded(shoe, settings):
    from dengage_django.contrib.oscar.baskets import NOTES, REMOVED, record_notes
    from dengage_django.contrib.oscar.products import price_fields

    client = browser()
    add(client, shoe, 2)
    [line] = lines_of(client)
    tracker = Tracker(browser().get("/").wsgi_request)
    tracker.state[NOTES] = [(REMOVED, line.basket_id, line.product_id, 1, line)]

    class Failed:
        status_code = 500

    record_notes(tracker, Failed(), price_fields)
    assert recorded("BASKET_OPERATIONS", step="remove") == []
    assert NOTES not in tracker.state
