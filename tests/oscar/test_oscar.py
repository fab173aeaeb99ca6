"""The Oscar integration (dengage_django.contrib.oscar) in a real Oscar
shop: run with ``pytest tests/oscar --ds tests.oscar.settings`` (tox
environment ``oscar``)."""

from decimal import Decimal

import pytest
from django.test import Client
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_model
from oscar.test.factories import create_product

from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
ProductCategory = get_model("catalogue", "ProductCategory")


def browser():
    return Client(headers={"user-agent": DESKTOP, "accept": "text/html"})


def recorded(name):
    rows = OutboxEvent.objects.filter(name=name).order_by("id")
    return list(rows.values_list("payload", flat=True))


@pytest.fixture
def shoe():
    product = create_product(title="Trail Runner", price=Decimal("89.90"), num_in_stock=4)
    category = create_from_breadcrumbs("Men > Sports > Shoes")
    ProductCategory.objects.create(product=product, category=category)
    return product


def test_a_product_page_records_its_product_view_and_category(shoe):
    response = browser().get(shoe.get_absolute_url())
    assert response.status_code == 200
    [page] = recorded("PAGE_VIEW")
    assert page["category"] == "Product Page"
    [view] = recorded("PRODUCT_VIEW")
    assert view["productId"] == str(shoe.pk)
    assert view["title"] == "Trail Runner"
    assert view["url"] == "http://testserver" + shoe.get_absolute_url()
    assert (view["price"], view["currency"], view["inStock"]) == (89.9, "EUR", True)
    assert view["categories"] == ["Men > Sports > Shoes"]
    assert "image" not in view  # Oscar's placeholder is no image
    assert view["userId"] == page["userId"]


def test_a_child_product_reports_its_parent_as_group(shoe):
    parent = create_product(title="Runner", structure="parent")
    child = create_product(title="Runner 42", parent=parent, price=Decimal("50"), num_in_stock=1)
    browser().get(child.get_absolute_url())
    [view] = recorded("PRODUCT_VIEW")
    assert (view["productId"], view["groupId"]) == (str(child.pk), str(parent.pk))


def test_oscar_pages_get_their_categories(shoe):
    client = browser()
    for url, category in (
        ("/catalogue/", "Category Page"),
        ("/basket/", "Basket Page"),
        ("/search/?q=trail", "Search Page"),
    ):
        OutboxEvent.objects.all().delete()
        assert client.get(url).status_code == 200, url
        [page] = recorded("PAGE_VIEW")
        assert page["category"] == category, url


def test_the_shops_setting_overrides_oscars_categories(shoe, settings):
    settings.DENGAGE_PAGE_CATEGORIES = {"catalogue:detail": ["Product Page", "Shoes"]}
    browser().get(shoe.get_absolute_url())
    [page] = recorded("PAGE_VIEW")
    assert (page["category"], page["subCategory"]) == ("Product Page", "Shoes")


def test_adding_to_the_basket_records_the_quantity_and_the_price(shoe):
    client = browser()
    client.get(shoe.get_absolute_url())
    response = client.post(f"/basket/add/{shoe.pk}/", {"quantity": "2"})
    assert response.status_code == 302
    [add] = recorded("BASKET_OPERATIONS")
    assert (add["step"], add["productId"], add["quantity"]) == ("add", str(shoe.pk), 2)
    assert (add["price"], add["currency"]) == (89.9, "EUR")
    assert add["userId"] == recorded("PRODUCT_VIEW")[0]["userId"]


def test_a_search_records_its_query(shoe):
    browser().get("/search/?q=trail+runner")
    [search] = recorded("SEARCH")
    assert search["query"] == "trail runner"


def test_an_empty_search_records_none(shoe):
    browser().get("/search/?q=")
    assert recorded("SEARCH") == []


def test_a_product_oscar_cannot_describe_never_breaks_the_page(shoe, monkeypatch, settings):
    from dengage_django.contrib.oscar import receivers

    settings.DENGAGE_STRICT = False

    def broken(product, request):
        raise AttributeError("a forked catalogue without get_title")

    settings.DENGAGE_OSCAR_PRODUCT_ADAPTER = broken
    monkeypatch.setattr(receivers, "price_fields", broken)
    client = browser()
    assert client.get(shoe.get_absolute_url()).status_code == 200
    assert recorded("PRODUCT_VIEW") == [] and len(recorded("PAGE_VIEW")) == 1
    assert client.post(f"/basket/add/{shoe.pk}/", {"quantity": "1"}).status_code == 302
    [add] = recorded("BASKET_OPERATIONS")
    assert "price" not in add and add["quantity"] == 1


def test_an_unpublished_product_a_staff_member_opens_is_not_sent(shoe):
    from django.contrib.auth import get_user_model

    secret = create_product(title="Secret", price=Decimal("9"), num_in_stock=1, is_public=False)
    staff = get_user_model().objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    client = browser()
    client.force_login(staff)
    assert client.get(secret.get_absolute_url()).status_code == 200
    assert recorded("PRODUCT_VIEW") == []


@pytest.mark.parametrize(
    "method, headers",
    [("head", {}), ("get", {"sec-purpose": "prefetch"})],
)
def test_no_product_view_for_what_no_visitor_saw(shoe, method, headers):
    getattr(browser(), method)(shoe.get_absolute_url(), headers=headers)
    assert recorded("PRODUCT_VIEW") == [] and recorded("PAGE_VIEW") == []


def test_next_pages_and_sorting_of_a_search_are_no_new_search(shoe):
    client = browser()
    for query in (
        "q=trail",
        "q=trail&page=2",
        "q=trail&sort_by=price-asc",
        "q=trail&page=1",  # back to the first page
        "q=runner",
    ):
        client.get(f"/search/?{query}")
    assert [s["query"] for s in recorded("SEARCH")] == ["trail", "runner"]


def test_prefetched_categories_are_read_too(shoe, rf):
    from dengage_django.contrib.oscar.products import product_fields

    Product = get_model("catalogue", "Product")
    product = Product.objects.prefetch_browsable_categories().get(pk=shoe.pk)
    assert product_fields(product, rf.get("/"))["categories"] == ["Men > Sports > Shoes"]


def test_a_failure_recording_never_breaks_oscars_page(shoe, monkeypatch):
    from dengage_django.tracking.tracker import Tracker

    def broken(self, *args, **kwargs):
        raise RuntimeError("the visitor's id link could not be written")

    monkeypatch.setattr(Tracker, "product_view", broken)
    monkeypatch.setattr(Tracker, "basket_add", broken)
    client = browser()
    assert client.get(shoe.get_absolute_url()).status_code == 200
    assert client.post(f"/basket/add/{shoe.pk}/", {"quantity": "1"}).status_code == 302
    assert len(recorded("PAGE_VIEW")) == 1
