"""Tests for dengage_django.events.validation: validation and normalisation of events."""

import datetime
import json
import math
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils.translation import gettext_lazy

from dengage_django.events.validation import (
    EVENT_NAMES,
    build_event,
    encode_batch,
    sanitize_for_storage,
)
from dengage_django.exceptions import DengageValidationError

IDS = {"userId": "XXXXXXXXXXXXXXXXXXX", "sessionId": "YYYYYYYYYYYYYYYYYYYYY"}
PAGE = {**IDS, "pageUrl": "http://www.exampleshop.com/", "referrer": ""}

# The guide's example bodies, with its typos (curly quotes, missing commas) fixed.
PAGE_VIEW = {
    "name": "PAGE_VIEW",
    **PAGE,
    "category": "Home Page",
    "device": "IOS",
}
PRODUCT_VIEW = {
    "name": "PRODUCT_VIEW",
    **PAGE,
    "device": "TABLET",
    "productId": "EXAMPLE_PRODUCT_1",
    "title": "Example Product",
    "inStock": "true",
    "url": "https://www.exampleshop.com/example-product-1/",
    "image": "https://cdn.exampleshop.com/example-product-1.png",
    "category": "Men>Sports>Shoes",
    "brand": "Example Brand",
    "price": 349.99,
    "oldPrice": 449.99,
    "gender": "M",
    "colors": ["black", "red", "blue"],
    "sizes": ["small", "medium", "large"],
    "labels": ["new-comer", "top-seller"],
    "params": {"field1": "value1", "field2": "value2"},
}
BASKET_ADD = {
    "name": "BASKET_OPERATIONS",
    **PAGE,
    "device": "IOS",
    "step": "add",
    "productId": "EXAMPLE_PRODUCT_1",
    "price": 349.99,
    "currency": "EUR",
    "quantity": 2,
}
BASKET_REMOVE = {
    "name": "BASKET_OPERATIONS",
    **PAGE,
    "device": "IOS",
    "step": "remove",
    "productId": "EXAMPLE_PRODUCT_1",
    "quantity": 1,
}
PRODUCT_LIST = [
    {"productId": "EXAMPLE_PRODUCT_1", "price": 349.99, "currency": "EUR", "quantity": 2},
    {"productId": "EXAMPLE_PRODUCT_2", "price": 249.99, "currency": "EUR", "quantity": 1},
]
CHECKOUT = {
    "name": "CHECKOUT",
    **PAGE,
    "device": "ANDROID",
    "step": "basket",
    "totalPrice": 999.99,
    "currency": "EUR",
    "cartUrl": "http://www.exampleshop.com/cart/cart-1234567890/",
    "productList": PRODUCT_LIST,
}
CHECKOUT_PURCHASE = {
    "name": "CHECKOUT",
    **PAGE,
    "device": "ANDROID",
    "step": "purchase",
    "totalPrice": 999.99,
    "currency": "EUR",
    "productList": PRODUCT_LIST,
}
USER_SIGNUP = {
    "name": "USER_OPERATIONS",
    **PAGE,
    "device": "MOBILE",
    "step": "signup",
    "username": "CUSTOMER USERNAME",
    "fullName": "NAME SURNAME",
    "email": "EMAIL OF THE CUSTOMER",
    "phone": "MOBILE PHONE OF THE CUSTOMER",
    "gender": "GENDER OF THE CUSTOMER",
    "age": 18,
    "memberSince": "23.01.2014",
    "location": "LOCATION OF THE CUSTOMER",
    "segments": ["segment1", "segment2"],
    "custom": {"field1": "value1", "field2": "value2"},
}
USER_SIGNIN = {
    "name": "USER_OPERATIONS",
    **PAGE,
    "device": "MOBILE",
    "step": "signin",
    "username": "CUSTOMER USERNAME",
}
CUSTOM_EVENT = {
    "name": "CUSTOM_EVENT",
    **PAGE,
    "device": "MOBILE",
    "type": "my_custom_event",
    "params": {"field1": "value1", "field2": "value2"},
}

GUIDE_EXAMPLES = [
    PAGE_VIEW,
    PRODUCT_VIEW,
    BASKET_ADD,
    BASKET_REMOVE,
    CHECKOUT,
    CHECKOUT_PURCHASE,
    USER_SIGNUP,
    USER_SIGNIN,
    CUSTOM_EVENT,
]


def fields_of(body, **changes):
    """The body without its name, with ``changes`` applied."""
    fields = {key: value for key, value in body.items() if key != "name"}
    fields.update(changes)
    return fields


def raises(name, fields, field, fragment, **kwargs):
    """Assert build_event fails on exactly ``field`` with ``fragment`` in the message."""
    with pytest.raises(DengageValidationError) as info:
        build_event(name, fields, **kwargs)
    error = info.value
    assert error.event == name
    assert error.field == field
    assert fragment in error.message
    prefix = f"{name}.{field}: " if field else f"{name}: "
    assert str(error).startswith(prefix)
    return error


# --- The guide's examples ---------------------------------------------------


def test_event_names():
    assert EVENT_NAMES == (
        "PAGE_VIEW",
        "PRODUCT_VIEW",
        "BASKET_OPERATIONS",
        "CHECKOUT",
        "USER_OPERATIONS",
        "CUSTOM_EVENT",
        "INTERACTION",
        "SEARCH",
    )
    # The guide shows the first six; the last two come from the vendor's
    # own clients (spec/PERSONALISATION.md).
    assert {body["name"] for body in GUIDE_EXAMPLES} == set(EVENT_NAMES[:6])


@pytest.mark.parametrize("body", GUIDE_EXAMPLES, ids=lambda body: body["name"])
def test_guide_examples_round_trip(body):
    expected = {**body, "inStock": True} if "inStock" in body else body
    event = build_event(body["name"], fields_of(body))
    assert event == expected
    assert json.loads(encode_batch([event])) == [expected]


def test_body_with_its_own_name_is_accepted():
    assert build_event("PAGE_VIEW", PAGE_VIEW) == PAGE_VIEW


def test_result_is_a_new_dict_in_stable_order():
    fields = fields_of(BASKET_ADD)
    fields = dict(reversed(list(fields.items())))
    event = build_event("BASKET_OPERATIONS", fields)
    assert list(event)[:3] == ["name", "userId", "sessionId"]
    assert list(event) == list(build_event("BASKET_OPERATIONS", fields_of(BASKET_ADD)))
    event["price"] = 0
    assert fields["price"] == 349.99


# --- Field names --------------------------------------------------------------


def test_snake_case_names_accepted():
    event = build_event(
        "PRODUCT_VIEW",
        {
            "user_id": "u",
            "session_id": "s",
            "product_id": "p",
            "old_price": 10,
            "sub_category": None,
            "in_stock": False,
            "m_url": "https://m.example.com/p",
            "image_xs": "https://cdn.example.com/xs.png",
            "test_mode": True,
            "page_url": "https://example.com/p",
        },
    )
    assert event == {
        "name": "PRODUCT_VIEW",
        "userId": "u",
        "sessionId": "s",
        "pageUrl": "https://example.com/p",
        "testMode": True,
        "productId": "p",
        "mUrl": "https://m.example.com/p",
        "imageXS": "https://cdn.example.com/xs.png",
        "oldPrice": 10,
        "inStock": False,
    }


def test_snake_case_for_user_and_checkout_fields():
    user = build_event(
        "USER_OPERATIONS",
        {**IDS, "step": "update", "full_name": "Ada", "member_since": "01.02.2003"},
    )
    assert user["fullName"] == "Ada"
    assert user["memberSince"] == "01.02.2003"
    checkout = build_event(
        "CHECKOUT",
        {
            **IDS,
            "step": "payment",
            "total_price": 5,
            "cart_url": "/cart/",
            "product_list": [{"product_id": "p1"}],
        },
    )
    assert checkout["totalPrice"] == 5
    assert checkout["cartUrl"] == "/cart/"
    assert checkout["productList"] == [{"productId": "p1", "quantity": 1}]


def test_none_values_are_absent():
    event = build_event("PAGE_VIEW", {**IDS, "category": None, "device": None})
    assert event == {"name": "PAGE_VIEW", **IDS}


# --- Normalisation ------------------------------------------------------------


def test_decimal_price_is_written_exactly():
    event = build_event(
        "BASKET_OPERATIONS", {**IDS, "step": "add", "productId": "p", "price": Decimal("349.99")}
    )
    assert event["price"] == 349.99
    assert json.dumps(event["price"]) == "349.99"
    assert b'"price":349.99,' in encode_batch([event])


def test_numeric_string_and_integral_decimal():
    event = build_event(
        "CHECKOUT",
        {
            **IDS,
            "step": "purchase",
            "totalPrice": Decimal("1000"),
            "tax": "349.99",
            "totalDiscount": Decimal("12.50"),
            "productList": [{"productId": 7, "price": "20", "quantity": "2"}],
        },
    )
    assert event["totalPrice"] == 1000
    assert type(event["totalPrice"]) is int
    assert json.dumps(event["tax"]) == "349.99"
    assert json.dumps(event["totalDiscount"]) == "12.5"
    assert event["productList"] == [{"productId": "7", "price": 20, "quantity": 2}]


def test_lazy_strings_become_str():
    event = build_event("PAGE_VIEW", {**IDS, "category": gettext_lazy("Home Page")})
    assert event["category"] == "Home Page"
    assert type(event["category"]) is str
    json.dumps(event)


def test_dates_are_written_dd_mm_yyyy():
    event = build_event(
        "USER_OPERATIONS",
        {
            **IDS,
            "step": "signup",
            "memberSince": datetime.date(2014, 1, 23),
            "birthDate": datetime.datetime(1990, 5, 4, 13, 30),
        },
    )
    assert event["memberSince"] == "23.01.2014"
    assert event["birthDate"] == "04.05.1990"


def test_quantity_defaults_to_one():
    event = build_event("BASKET_OPERATIONS", {**IDS, "step": "add", "productId": "p"})
    assert event["quantity"] == 1
    assert "quantity" in json.loads(encode_batch([event]))[0]


def test_device_and_currency_and_step_normalised():
    event = build_event(
        "BASKET_OPERATIONS",
        {**IDS, "step": " Add", "productId": "p", "device": "ios", "currency": "eur "},
    )
    assert event["device"] == "IOS"
    assert event["currency"] == "EUR"
    assert event["step"] == "add"


def test_ids_accept_ints_and_lang_is_stripped():
    event = build_event("PAGE_VIEW", {"userId": 42, "sessionId": -7, "lang": " tr_TR "})
    assert event["userId"] == "42"
    assert event["sessionId"] == "-7"
    assert event["lang"] == "tr_TR"


def test_boolean_strings_and_integral_quantity():
    event = build_event(
        "PRODUCT_VIEW",
        {**IDS, "productId": "p", "inStock": "FALSE", "stockCount": 3.0, "testMode": "True"},
    )
    assert event["inStock"] is False
    assert event["testMode"] is True
    assert event["stockCount"] == 3
    assert type(event["stockCount"]) is int


def test_sizes_accept_ints_and_shipment_accepts_string():
    product = build_event("PRODUCT_VIEW", {**IDS, "productId": "p", "sizes": [38, "39"]})
    assert product["sizes"] == ["38", "39"]
    checkout = build_event(
        "CHECKOUT",
        {**IDS, "step": "basket", "totalPrice": 1, "productList": [{"productId": "p"}]}
        | {"shipment": "free"},
    )
    assert checkout["shipment"] == "free"


def test_params_are_normalised_recursively():
    event = build_event(
        "CUSTOM_EVENT",
        {
            **IDS,
            "type": "t",
            "params": {
                "when": datetime.date(2020, 2, 29),
                "amount": Decimal("1.10"),
                "tags": ("a", gettext_lazy("b")),
                "nested": {"ok": None, "flag": True},
            },
        },
    )
    assert event["params"] == {
        "when": "2020-02-29",
        "amount": 1.1,
        "tags": ["a", "b"],
        "nested": {"ok": None, "flag": True},
    }


# --- Malformed events ---------------------------------------------------------


def test_negative_quantity():
    error = raises(
        "BASKET_OPERATIONS",
        fields_of(BASKET_ADD, quantity=-3),
        "quantity",
        "must be a positive integer, got -3",
    )
    assert str(error) == "BASKET_OPERATIONS.quantity: must be a positive integer, got -3"


def test_bool_quantity():
    raises("BASKET_OPERATIONS", fields_of(BASKET_ADD, quantity=True), "quantity", "got True")


def test_fractional_quantity():
    raises("BASKET_OPERATIONS", fields_of(BASKET_ADD, quantity=2.5), "quantity", "got 2.5")


def test_non_numeric_price():
    raises("PRODUCT_VIEW", fields_of(PRODUCT_VIEW, price="abc"), "price", "must be a non-negative")


@pytest.mark.parametrize("bad", [math.nan, math.inf, Decimal("NaN"), "nan", "Infinity"])
def test_non_finite_price(bad):
    raises("BASKET_OPERATIONS", fields_of(BASKET_ADD, price=bad), "price", "number")


def test_bool_price():
    raises("BASKET_OPERATIONS", fields_of(BASKET_ADD, price=False), "price", "got False")


def test_decimal_with_too_many_digits():
    raises(
        "BASKET_OPERATIONS",
        fields_of(BASKET_ADD, price=Decimal("0.12345678901234567890123")),
        "price",
        "has more digits than a JSON number carries exactly",
    )


def test_missing_product_id():
    fields = fields_of(BASKET_ADD)
    del fields["productId"]
    raises("BASKET_OPERATIONS", fields, "productId", "is required")


def test_missing_user_id():
    fields = fields_of(PAGE_VIEW)
    del fields["userId"]
    raises("PAGE_VIEW", fields, "userId", "is required")


def test_empty_required_string():
    raises("CUSTOM_EVENT", fields_of(CUSTOM_EVENT, type=""), "type", "must not be empty")


def test_unknown_step():
    raises("BASKET_OPERATIONS", fields_of(BASKET_ADD, step="buy"), "step", "got 'buy'")


def test_unknown_device():
    raises("PAGE_VIEW", fields_of(PAGE_VIEW, device="FRIDGE"), "device", "must be one of PC")


def test_bad_currency_and_lang():
    raises("PAGE_VIEW", fields_of(PAGE_VIEW, currency="EURO"), "currency", "ISO 4217")
    raises("PAGE_VIEW", fields_of(PAGE_VIEW, lang="english"), "lang", "language code")


def test_unknown_field_with_suggestion():
    raises(
        "PRODUCT_VIEW",
        fields_of(PRODUCT_VIEW, prodctId="x"),
        "prodctId",
        "unknown field (did you mean 'productId'?)",
    )


def test_unknown_field_without_suggestion():
    error = raises("PAGE_VIEW", fields_of(PAGE_VIEW, zzzzzz=1), "zzzzzz", "unknown field")
    assert "did you mean" not in error.message


def test_params_with_a_set():
    error = raises(
        "CUSTOM_EVENT",
        fields_of(CUSTOM_EVENT, params={"tags": ["a", "b", {"c"}]}),
        "params.tags[2]",
        "not JSON-serialisable (set)",
    )
    assert str(error) == "CUSTOM_EVENT.params.tags[2]: not JSON-serialisable (set)"


def test_params_with_a_non_string_key():
    raises("CUSTOM_EVENT", fields_of(CUSTOM_EVENT, params={1: "x"}), "params", "keys must be")


def test_custom_with_nan():
    raises(
        "USER_OPERATIONS",
        fields_of(USER_SIGNUP, custom={"score": [1, {"x": math.nan}]}),
        "custom.score[1].x",
        "must be a number",
    )


def test_invalid_member_since():
    raises(
        "USER_OPERATIONS",
        fields_of(USER_SIGNUP, memberSince="31.02.2020"),
        "memberSince",
        "not a real date",
    )
    raises(
        "USER_OPERATIONS",
        fields_of(USER_SIGNUP, memberSince="2020-02-01"),
        "memberSince",
        "dd.mm.yyyy",
    )


def test_age_out_of_range():
    raises("USER_OPERATIONS", fields_of(USER_SIGNUP, age=200), "age", "between 0 and 150")


def test_bad_boolean():
    raises("PRODUCT_VIEW", fields_of(PRODUCT_VIEW, inStock="yes"), "inStock", "boolean")


def test_empty_product_list():
    raises("CHECKOUT", fields_of(CHECKOUT, productList=[]), "productList", "must not be empty")


def test_product_list_item_missing_product_id():
    items = [PRODUCT_LIST[0], {"price": 1}]
    raises(
        "CHECKOUT",
        fields_of(CHECKOUT, productList=items),
        "productList[1].productId",
        "is required",
    )


def test_product_list_item_bad_price_and_unknown_key():
    items = [PRODUCT_LIST[0], {"productId": "p", "price": "abc"}]
    raises("CHECKOUT", fields_of(CHECKOUT, productList=items), "productList[1].price", "got 'abc'")
    items = [{"productId": "p", "colour": "red"}]
    raises("CHECKOUT", fields_of(CHECKOUT, productList=items), "productList[0].colour", "unknown")


def test_product_list_item_not_a_mapping():
    raises("CHECKOUT", fields_of(CHECKOUT, productList=["p1"]), "productList[0]", "mapping")


def test_duplicate_wire_and_snake_key():
    raises(
        "BASKET_OPERATIONS",
        fields_of(BASKET_ADD, product_id="EXAMPLE_PRODUCT_1"),
        "productId",
        "given twice",
    )


def test_mismatched_name_key():
    raises("PAGE_VIEW", {**PAGE_VIEW, "name": "CHECKOUT"}, "name", "does not match")


def test_unknown_event_name():
    error = raises("FOO", fields_of(PAGE_VIEW), None, "unknown event name 'FOO'")
    assert "PAGE_VIEW" in error.message
    assert str(error).startswith("FOO: unknown event name 'FOO' (expected one of PAGE_VIEW")


def test_fields_not_a_mapping():
    raises("PAGE_VIEW", [("userId", "u")], None, "must be a mapping")


def test_id_too_long():
    raises("PAGE_VIEW", fields_of(PAGE_VIEW, userId="u" * 129), "userId", "128-character cap")
    # Ids are never truncated, even in lenient mode.
    raises("PAGE_VIEW", fields_of(PAGE_VIEW, userId="u" * 129), "userId", "128", strict=False)


def test_wrong_type_for_string():
    raises("PRODUCT_VIEW", fields_of(PRODUCT_VIEW, title=12), "title", "must be a string")
    raises("PRODUCT_VIEW", fields_of(PRODUCT_VIEW, colors="red"), "colors", "must be a list")
    raises("PRODUCT_VIEW", fields_of(PRODUCT_VIEW, colors=["red", 1]), "colors[1]", "string")


def test_long_value_repr_is_truncated_in_message():
    error = raises("PAGE_VIEW", fields_of(PAGE_VIEW, device="X" * 500), "device", "got")
    assert len(error.message) < 150


@override_settings(DENGAGE_MAX_EVENT_BYTES=300)
def test_over_size_event():
    error = raises("CUSTOM_EVENT", fields_of(CUSTOM_EVENT, type="t" * 400), None, "-byte cap")
    assert "over the 300-byte cap" in error.message


def test_default_size_cap_counts_utf8_bytes():
    # 2000 three-byte characters in each of 6 strings: under the string cap,
    # over the 32 KiB event cap once encoded.
    params = {f"k{i}": "€" * 2000 for i in range(6)}
    error = raises("CUSTOM_EVENT", fields_of(CUSTOM_EVENT, params=params), None, "bytes, over")
    assert "32768-byte cap" in error.message


@override_settings(DENGAGE_MAX_STRING_LENGTH=10)
def test_string_over_cap_in_strict_mode():
    raises(
        "PAGE_VIEW",
        {**IDS, "category": "x" * 11},
        "category",
        "11 characters long, over the 10-character cap",
    )
    raises("CUSTOM_EVENT", {**IDS, "type": "t", "params": {"a": "y" * 11}}, "params.a", "cap")
    assert build_event("PAGE_VIEW", {**IDS, "category": "x" * 10})["category"] == "x" * 10


@override_settings(DENGAGE_MAX_STRING_LENGTH=10)
def test_lenient_mode_truncates_long_strings():
    event = build_event(
        "PRODUCT_VIEW",
        fields_of(
            PRODUCT_VIEW,
            title="T" * 50,
            colors=["c" * 20],
            params={"a": "p" * 30},
            image="short",
        ),
        strict=False,
    )
    assert event["title"] == "T" * 10
    assert event["colors"] == ["c" * 10]
    assert event["params"] == {"a": "p" * 10}
    assert event["image"] == "short"
    assert event["productId"] == "EXAMPLE_PRODUCT_1"


def test_lenient_mode_still_rejects_other_errors():
    raises(
        "BASKET_OPERATIONS", fields_of(BASKET_ADD, quantity=0), "quantity", "got 0", strict=False
    )


# --- encode_batch ---------------------------------------------------------------


def test_encode_batch():
    first = build_event("PAGE_VIEW", {**IDS, "category": "Café"})
    second = build_event("BASKET_OPERATIONS", {**IDS, "step": "add", "productId": "p"})
    body = encode_batch([first, second])
    assert isinstance(body, bytes)
    assert body.startswith(b'[{"name":"PAGE_VIEW","userId":')
    assert "Café".encode() in body
    assert b", " not in body and b": " not in body
    assert json.loads(body.decode("utf-8")) == [first, second]
    assert encode_batch([]) == b"[]"


# --- sanitize_for_storage -------------------------------------------------------


class Unrepresentable:
    def __repr__(self):
        raise RuntimeError("no repr")


def test_sanitize_for_storage_never_raises():
    cyclic = []
    cyclic.append(cyclic)
    raw = {
        "price": Decimal("349.99"),
        "tags": {"a", "b"},
        "lazy": gettext_lazy("Home Page"),
        "when": datetime.date(2014, 1, 23),
        "nan": math.nan,
        "big": "x" * 1000,
        "object": object(),
        "long": [b"y" * 500],
        "broken": Unrepresentable(),
        "cycle": cyclic,
        3: "int key",
        "nested": {"ok": [1, 2.5, None, True]},
    }
    stored = sanitize_for_storage(raw)
    json.dumps(stored)
    assert stored["price"] == "349.99"
    assert stored["lazy"] == "Home Page"
    assert stored["when"] == "2014-01-23"
    assert stored["nan"] == "nan"
    assert stored["big"] == "x" * 1000
    assert stored["tags"].startswith("{")
    assert len(stored["long"][0]) <= 200
    assert "Unrepresentable" in stored["broken"]
    assert stored["3"] == "int key"
    assert stored["nested"] == {"ok": [1, 2.5, None, True]}


@pytest.mark.parametrize("raw", [None, "text", [1, {2}], object(), Unrepresentable()])
def test_sanitize_for_storage_non_mappings(raw):
    stored = sanitize_for_storage(raw)
    assert isinstance(stored, dict)
    json.dumps(stored)
