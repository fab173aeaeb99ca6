"""dengage_django.events.adapters: reading products and baskets, and every
way a shop's object or adapter can fail to give one (a DengageValidationError,
so a bad basket is handled like any other invalid event)."""

import pytest

from dengage_django.events.adapters import basket_fields, basket_item, product_fields
from dengage_django.exceptions import DengageValidationError


def shop_basket_adapter(basket):
    """A dotted-path DENGAGE_BASKET_ADAPTER (a shop's own basket object)."""
    return {"total_price": basket.total, "products": basket.lines}


class ShopBasket:
    def __init__(self, total, lines):
        self.total = total
        self.lines = lines


def test_basket_adapter_by_dotted_path(settings):
    settings.DENGAGE_BASKET_ADAPTER = f"{__name__}.shop_basket_adapter"
    fields = basket_fields(ShopBasket(10, [{"productId": "P1", "price": 10, "title": "x"}]))
    assert fields == {"total_price": 10, "products": [{"productId": "P1", "price": 10}]}


def test_product_adapter_by_dotted_path(settings):
    settings.DENGAGE_PRODUCT_ADAPTER = f"{__name__}.shop_basket_adapter"
    assert product_fields(ShopBasket(5, [])) == {"total_price": 5, "products": []}


def test_an_adapter_that_raises_is_a_validation_error_naming_the_exception(settings):
    def broken(obj):
        raise LookupError("no such product")

    settings.DENGAGE_PRODUCT_ADAPTER = broken
    with pytest.raises(DengageValidationError) as info:
        product_fields(object(), "PRODUCT_VIEW")
    assert info.value.event == "PRODUCT_VIEW"
    assert "reading the product failed: LookupError: no such product" in info.value.message
    assert isinstance(info.value.__cause__, LookupError)


def test_a_to_dengage_that_raises_is_a_validation_error():
    class Product:
        def to_dengage(self):
            return {}["missing"]

    with pytest.raises(DengageValidationError, match="reading the product failed: KeyError"):
        product_fields(Product())


@pytest.mark.parametrize("returned", [None, ["P1", 10], "P1"])
def test_an_adapter_must_return_a_mapping(settings, returned):
    settings.DENGAGE_BASKET_ADAPTER = lambda obj: returned
    with pytest.raises(DengageValidationError) as info:
        basket_fields(object(), "CHECKOUT")
    assert info.value.message == (
        f"the basket adapter returned {type(returned).__name__}, not a mapping"
    )


def test_no_basket_given():
    with pytest.raises(DengageValidationError, match="no basket given"):
        basket_fields(None)


def test_product_list_is_the_wire_spelling_of_products():
    fields = basket_fields(
        {"totalPrice": 5, "productList": [{"productId": "P1", "quantity": 2}], "cartUrl": None}
    )
    assert fields == {"total_price": 5, "products": [{"productId": "P1", "quantity": 2}]}


def test_a_basket_without_products():
    with pytest.raises(DengageValidationError) as info:
        basket_fields({"total_price": 5, "products": None})
    assert (info.value.field, info.value.message) == ("productList", "the basket has no products")


@pytest.mark.parametrize("products", ["P1,P2", b"P1", {"productId": "P1"}, 3])
def test_basket_products_must_be_a_list(products):
    with pytest.raises(DengageValidationError) as info:
        basket_fields({"total_price": 5, "products": products})
    assert info.value.field == "productList"
    assert info.value.message == "the basket's products are not a list"


def test_basket_products_may_be_any_iterable():
    products = ({"productId": f"P{i}"} for i in range(2))
    assert basket_fields({"total_price": 5, "products": products})["products"] == [
        {"productId": "P0"},
        {"productId": "P1"},
    ]


def test_a_basket_item_keeps_only_item_keys_that_are_given():
    item = basket_item({"product_id": "P1", "price": None, "title": "Runner", "quantity": 3})
    assert item == {"product_id": "P1", "quantity": 3}
