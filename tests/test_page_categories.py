"""DENGAGE_PAGE_CATEGORIES: a PAGE_VIEW's category from its URL's name."""

import pytest
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from dengage_django.checks import check_setting_values
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
PAGE = "<html><body>a page</body></html>"


def page(request, **kwargs):
    return HttpResponse(PAGE)


def page_with_category(request, **kwargs):
    request.dengage.page("Search Page")
    return HttpResponse(PAGE)


def page_with_sub_category(request, **kwargs):
    request.dengage.page(sub_category="Sale")
    return HttpResponse(PAGE)


pay_patterns = [path("card/", page, name="card")]
checkout_patterns = [
    path("", page, name="start"),
    path("pay/", include((pay_patterns, "pay"))),
]
shop_patterns = [
    path("p/<int:pk>/", page, name="product"),
    path("c/<slug:slug>/", page, name="category"),
    path("search/", page_with_category, name="search"),
    path("sale/", page_with_sub_category, name="sale"),
]
urlpatterns = [
    path("", include((shop_patterns, "shop"))),
    path("checkout/", include((checkout_patterns, "checkout"))),
    path("about/", page, name="about"),
    path("unnamed/", page),
]


def category_of(url):
    OutboxEvent.objects.all().delete()
    Client(headers={"user-agent": DESKTOP, "accept": "text/html"}).get(url)
    [event] = OutboxEvent.objects.filter(name="PAGE_VIEW").values_list("payload", flat=True)
    return event.get("category"), event.get("subCategory")


CATEGORIES = {
    "shop:product": "Product Page",
    "shop:category": ["Category Page", "Shoes"],
    "shop:search": "Listing Page",
    "shop:sale": "Listing Page",
    "checkout:*": "Checkout Page",
    "checkout:pay:*": ["Checkout Page", "Payment"],
}


@override_settings(ROOT_URLCONF=__name__, DENGAGE_PAGE_CATEGORIES=CATEGORIES)
@pytest.mark.parametrize(
    "url, expected",
    [
        ("/p/1/", ("Product Page", None)),
        ("/c/shoes/", ("Category Page", "Shoes")),
        ("/checkout/", ("Checkout Page", None)),  # the namespace
        ("/checkout/pay/card/", ("Checkout Page", "Payment")),  # the innermost namespace
        ("/about/", (None, None)),  # not in the setting
        ("/unnamed/", (None, None)),
        ("/search/", ("Search Page", None)),  # the view's own wins
        ("/sale/", ("Listing Page", "Sale")),  # the view's subCategory alone
    ],
)
def test_the_url_name_gives_the_category(url, expected):
    assert category_of(url) == expected


@override_settings(ROOT_URLCONF=__name__, DENGAGE_PAGE_CATEGORIES={"*": "Other Page"})
def test_a_star_gives_every_page_one():
    assert category_of("/unnamed/") == ("Other Page", None)
    assert category_of("/search/") == ("Search Page", None)


@override_settings(ROOT_URLCONF=__name__)
def test_without_the_setting_nothing_changes():
    assert category_of("/p/1/") == (None, None)


@pytest.mark.parametrize(
    "value",
    [
        "Product Page",
        ["shop:product"],
        {"shop:product": 3},
        {"shop:product": []},
        {"shop:product": ["a", "b", "c"]},
        {"shop:product": ["  "]},
        {"": "Product Page"},
        {1: "Product Page"},
    ],
)
def test_a_setting_of_the_wrong_shape_is_an_error(settings, value):
    settings.DENGAGE_PAGE_CATEGORIES = value
    ids = {message.id for message in check_setting_values()}
    assert ids & {"dengage_django.E016", "dengage_django.E008"}, ids  # E008: not a dict


def test_a_right_setting_passes_its_check(settings):
    settings.DENGAGE_PAGE_CATEGORIES = CATEGORIES
    assert not [m for m in check_setting_values() if "PAGE_CATEGORIES" in m.msg]


@pytest.fixture
def integration_defaults():
    from dengage_django.tracking import categories

    saved = dict(categories.DEFAULTS)
    categories.register_defaults({"shop:product": "Item Page", "checkout:*": "Checkout Page"})
    yield
    categories.DEFAULTS.clear()
    categories.DEFAULTS.update(saved)


def test_an_integrations_defaults_apply_under_the_shops_setting(integration_defaults, settings):
    # The settings fixture only (inside override_settings it would restore
    # that override's ROOT_URLCONF for the tests after this one).
    settings.ROOT_URLCONF = __name__
    assert category_of("/p/1/") == ("Item Page", None)
    settings.DENGAGE_PAGE_CATEGORIES = {"shop:product": "Product Page"}
    assert category_of("/p/1/") == ("Product Page", None)  # the shop's wins
    assert category_of("/checkout/") == ("Checkout Page", None)  # the rest stays
