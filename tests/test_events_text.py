"""Broken text (lone surrogates, NUL characters) in dengage_django.events.validation.

Lenient mode cleans the shop's text (NULs dropped, lone surrogates become
U+FFFD); strict mode rejects it, naming the field. Whatever the input,
build_event raises nothing but DengageValidationError, and nothing it
returns, raises or hands to storage holds a NUL or a lone surrogate.
"""

import datetime
import json
import re
from collections.abc import Mapping
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils.functional import lazy

from dengage_django.events import validation as events
from dengage_django.events.validation import (
    build_event,
    clean_text,
    encode_event,
    sanitize_for_storage,
    visitor_text,
)
from dengage_django.exceptions import DengageValidationError

from .conftest import product_view

IDS = {"userId": "u1", "sessionId": "s1"}
SURROGATE = "Shoes \ud83d"  # half an emoji
NUL = "Shoes \x00"
CLEANED = {SURROGATE: "Shoes \ufffd", NUL: "Shoes "}
WHAT = {SURROGATE: "lone surrogate (broken unicode) at position 6", NUL: "NUL character"}
BROKEN = re.compile("[\x00\ud800-\udfff]")
BOTH = pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])


def storable(text):
    """``text`` can be written to PostgreSQL: valid UTF-8 and no NUL."""
    assert isinstance(text, str)
    text.encode("utf-8")
    assert BROKEN.search(text) is None, repr(text)
    return True


def all_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from all_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from all_strings(item)


def rejected(name, fields, field, fragment, strict=True):
    """build_event fails on ``field`` with ``fragment`` in a storable message."""
    with pytest.raises(DengageValidationError) as info:
        build_event(name, fields, strict=strict)
    error = info.value
    assert error.event == name
    assert error.field == field
    assert fragment in error.message
    assert storable(str(error))
    return error


def lenient(name, fields):
    event = build_event(name, fields, strict=False)
    assert all(storable(text) for text in all_strings(event))
    assert json.loads(encode_event(event).decode("utf-8")) == event
    return event


# --- clean_text ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "Shoes", "Café 😀 ürün", "x" * 5000, "\ufffd"])
def test_clean_text_returns_clean_text_itself(text):
    text = "".join([text, ""])  # a fresh object, not an interned constant
    assert clean_text(text) is text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SURROGATE, "Shoes \ufffd"),
        ("\udc80abc", "\ufffdabc"),
        ("a\udfffb\ud800", "a\ufffdb\ufffd"),
        ("\ud83d\ude00", "\ufffd\ufffd"),  # a pair split in a str is still two halves
        (NUL, "Shoes "),
        ("\x00a\x00b\x00", "ab"),
        ("\x00\ud800\x00", "\ufffd"),
        ("\x00", ""),
    ],
)
def test_clean_text_drops_nul_and_replaces_surrogates(text, expected):
    assert clean_text(text) == expected
    assert storable(clean_text(text))


# --- Plain text, ids, choices and codes ----------------------------------------


@BOTH
def test_text_field(bad):
    event = lenient("PAGE_VIEW", {**IDS, "category": bad})
    assert event["category"] == CLEANED[bad]
    rejected("PAGE_VIEW", {**IDS, "category": bad}, "category", WHAT[bad])


def test_strict_message_gives_the_position():
    rejected("PAGE_VIEW", {**IDS, "category": "ab\ud83dc"}, "category", "at position 2")
    rejected("PAGE_VIEW", {**IDS, "category": "abc\x00"}, "category", "NUL character at position 3")


@BOTH
def test_text_in_a_list(bad):
    event = lenient("PRODUCT_VIEW", product_view(colors=["red", bad]))
    assert event["colors"] == ["red", CLEANED[bad]]
    rejected("PRODUCT_VIEW", product_view(colors=["red", bad]), "colors[1]", WHAT[bad])


@pytest.mark.parametrize(
    ("bad", "expected"), [("P\ud83d1", "P\ufffd1"), ("P\x001", "P1")], ids=["surrogate", "nul"]
)
def test_id(bad, expected):
    assert lenient("PRODUCT_VIEW", product_view(productId=bad))["productId"] == expected
    what = "NUL" if "\x00" in bad else "lone surrogate"
    rejected("PRODUCT_VIEW", product_view(productId=bad), "productId", what)
    rejected("PRODUCT_VIEW", product_view(userId=bad), "userId", what)


def test_id_of_only_nul_is_empty_when_cleaned():
    rejected(
        "PRODUCT_VIEW", product_view(productId="\x00"), "productId", "must not be empty", False
    )
    rejected("CUSTOM_EVENT", {**IDS, "type": "\x00\x00"}, "type", "must not be empty", False)


def test_product_list_item_id():
    fields = {**IDS, "step": "basket", "totalPrice": 1, "productList": [{"productId": "P\x00"}]}
    assert lenient("CHECKOUT", fields)["productList"][0]["productId"] == "P"
    rejected("CHECKOUT", fields, "productList[0].productId", "NUL")


@pytest.mark.parametrize(
    ("name", "fields", "field", "expected", "what"),
    [
        ("PAGE_VIEW", {"device": "ios\x00"}, "device", "IOS", "NUL"),
        ("PAGE_VIEW", {"device": "IOS\ud83d"}, "device", None, "lone surrogate"),
        ("PAGE_VIEW", {"lang": "en\x00"}, "lang", "en", "NUL"),
        ("PAGE_VIEW", {"currency": "eur\x00"}, "currency", "EUR", "NUL"),
        ("PAGE_VIEW", {"testMode": "true\x00"}, "testMode", True, "NUL"),
        ("PAGE_VIEW", {"region": "Ege\ud83d"}, "region", "Ege\ufffd", "lone surrogate"),
        ("BASKET_OPERATIONS", {"step": "add\x00", "productId": "P"}, "step", "add", "NUL"),
        (
            "BASKET_OPERATIONS",
            {"step": "add", "productId": "P", "quantity": "2\x00"},
            "quantity",
            2,
            "NUL",
        ),
        ("PRODUCT_VIEW", {"productId": "P", "price": "349.99\x00"}, "price", 349.99, "NUL"),
        ("PRODUCT_VIEW", {"productId": "P", "sizes": ["M\x00"]}, "sizes[0]", "M", "NUL"),
        (
            "USER_OPERATIONS",
            {"step": "signin", "birthDate": "01.02.2003\x00"},
            "birthDate",
            "01.02.2003",
            "NUL",
        ),
        ("CHECKOUT", {"step": "basket", "shipment": "free\x00"}, "shipment", "free", "NUL"),
    ],
)
def test_choices_codes_and_other_strings(name, fields, field, expected, what):
    fields = {**IDS, **fields}
    if name == "CHECKOUT":
        fields.update(totalPrice=1, productList=[{"productId": "P"}])
    if expected is None:  # cleaned, then not a valid choice any more
        rejected(name, fields, field, "must be one of", strict=False)
    else:
        event = lenient(name, fields)
        wire = field.removesuffix("[0]")
        assert event[wire] == ([expected] if wire != field else expected)
    rejected(name, fields, field, what)


@override_settings(DENGAGE_MAX_STRING_LENGTH=10)
def test_cleaned_before_the_cap():
    text = "\x00" * 5 + "abcdefghijk"
    assert lenient("PAGE_VIEW", {**IDS, "category": text})["category"] == "abcdefghij"
    assert lenient("PAGE_VIEW", {**IDS, "category": "\ud83d" * 20})["category"] == "\ufffd" * 10
    rejected("PAGE_VIEW", {**IDS, "category": text}, "category", "NUL")


# --- params and custom ------------------------------------------------------------


@BOTH
def test_params_values(bad):
    params = {"a": bad, "b": {"c": ["x", bad]}, "d": 1}
    event = lenient("CUSTOM_EVENT", {**IDS, "type": "t", "params": params})
    good = CLEANED[bad]
    assert event["params"] == {"a": good, "b": {"c": ["x", good]}, "d": 1}
    rejected("CUSTOM_EVENT", {**IDS, "type": "t", "params": params}, "params.a", WHAT[bad])
    params = {"a": "ok", "b": {"c": ["x", bad]}}
    rejected("CUSTOM_EVENT", {**IDS, "type": "t", "params": params}, "params.b.c[1]", WHAT[bad])


@BOTH
def test_params_keys(bad):
    params = {bad: 1, "outer": {bad: [bad]}}
    event = lenient("PAGE_VIEW", {**IDS, "params": params})
    good = CLEANED[bad]
    assert event["params"] == {good: 1, "outer": {good: [good]}}
    error = rejected("PAGE_VIEW", {**IDS, "params": params}, "params", "key 'Shoes \\")
    assert WHAT[bad].split(" at ")[0] in error.message
    nested = {"ok": 1, "outer": {bad: 2}}
    rejected("PAGE_VIEW", {**IDS, "params": nested}, "params.outer", WHAT[bad])


@BOTH
def test_custom(bad):
    fields = {**IDS, "step": "update", "custom": {"k": bad}}
    assert lenient("USER_OPERATIONS", fields)["custom"] == {"k": CLEANED[bad]}
    rejected("USER_OPERATIONS", fields, "custom.k", WHAT[bad])
    fields = {**IDS, "step": "update", "custom": {bad: "v"}}
    assert lenient("USER_OPERATIONS", fields)["custom"] == {CLEANED[bad]: "v"}
    rejected("USER_OPERATIONS", fields, "custom", WHAT[bad].split(" at ")[0])


@BOTH
@pytest.mark.parametrize("strict", [True, False])
def test_unknown_broken_field_name_is_named_safely(bad, strict):
    with pytest.raises(DengageValidationError) as info:
        build_event("PAGE_VIEW", {**IDS, bad: "x"}, strict=strict)
    assert "unknown field" in info.value.message
    assert info.value.field == repr(bad)  # the key as written, escaped
    assert storable(str(info.value))


# --- build_event raises nothing but DengageValidationError -----------------------


class Unrepresentable:
    def __repr__(self):
        raise RuntimeError("no repr")

    __str__ = __repr__


class BrokenRepr:
    def __repr__(self):
        return "broken \x00 \ud83d repr"

    __str__ = __repr__


class BadInt(int):
    def __str__(self):
        raise RuntimeError("no str")


class NulInt(int):
    def __str__(self):
        return "1\x00"


class Unequal:
    def __eq__(self, other):
        raise RuntimeError("cannot compare")

    __ne__ = __eq__
    __hash__ = object.__hash__


class Exploding(Mapping):
    def __getitem__(self, key):
        raise RuntimeError("no items")

    def __iter__(self):
        raise RuntimeError("no items")

    def __len__(self):
        return 3


def _fail():
    raise RuntimeError("translation broke")


failing_lazy = lazy(_fail, str)
broken_lazy = lazy(lambda: "Ho\x00me \ud83d", str)


def deep(levels):
    value = "bottom \ud83d"
    for _ in range(levels):
        value = {"k\x00": [value]}
    return value


HOSTILE = [
    ("PAGE\x00_VIEW", IDS),
    ("PAGE_VIEW\ud83d", IDS),
    (None, IDS),
    (BrokenRepr(), IDS),
    (Unrepresentable(), IDS),
    ("PAGE_VIEW", None),
    ("PAGE_VIEW", BrokenRepr()),
    ("PAGE_VIEW", Exploding()),
    ("PAGE_VIEW", {**IDS, "name": Unequal()}),
    ("PAGE_VIEW", {**IDS, "name": "PAGE_VIEW\x00"}),
    ("PAGE_VIEW", {**IDS, "category": Unrepresentable()}),
    ("PAGE_VIEW", {**IDS, "category": BrokenRepr()}),
    ("PAGE_VIEW", {**IDS, "category": failing_lazy()}),
    ("PAGE_VIEW", {**IDS, "category": broken_lazy()}),
    ("PAGE_VIEW", {**IDS, "category": b"\xff\x00"}),
    ("PAGE_VIEW", {**IDS, "device": "\ud83d"}),
    ("PAGE_VIEW", {**IDS, "lang": "\x00"}),
    ("PAGE_VIEW", {**IDS, "userId": BadInt(5)}),
    ("PAGE_VIEW", {**IDS, "userId": NulInt(5)}),
    ("PAGE_VIEW", {**IDS, "\ud83d": 1}),
    ("PAGE_VIEW", {**IDS, b"\x00": 1}),
    ("PAGE_VIEW", {**IDS, ("t", "\x00"): 1}),
    ("PAGE_VIEW", {**IDS, "params": {"a": 10**5000}}),
    ("PAGE_VIEW", {**IDS, "params": {"a": {1, "\x00"}}}),
    ("PAGE_VIEW", {**IDS, "params": {"a": b"\xff"}}),
    ("PAGE_VIEW", {**IDS, "params": {"a": Decimal("NaN")}}),
    ("PAGE_VIEW", {**IDS, "params": {"a": float("inf")}}),
    ("PAGE_VIEW", {**IDS, "params": {"a": Unrepresentable()}}),
    ("PAGE_VIEW", {**IDS, "params": {BrokenRepr(): 1}}),
    ("PAGE_VIEW", {**IDS, "params": {"a": failing_lazy()}}),
    ("PAGE_VIEW", {**IDS, "params": deep(5)}),
    ("PAGE_VIEW", {**IDS, "params": deep(100)}),
    ("PRODUCT_VIEW", product_view(price="1e999999\x00")),
    ("PRODUCT_VIEW", product_view(sizes=[NulInt(3), "\ud800"])),
    ("PRODUCT_VIEW", product_view(title=type("S", (str,), {})("sub\ud83d\x00"))),
    ("USER_OPERATIONS", {**IDS, "step": "update", "birthDate": "\x00" * 3}),
    ("USER_OPERATIONS", {**IDS, "step": "update", "memberSince": datetime.date.max}),
]


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(("name", "fields"), HOSTILE, ids=range(len(HOSTILE)))
def test_build_event_raises_only_validation_errors(name, fields, strict):
    try:
        event = build_event(name, fields, strict=strict)
    except DengageValidationError as error:
        assert storable(str(error))
        assert storable(error.message)
        assert error.field is None or storable(error.field)
    else:
        assert all(storable(text) for text in all_strings(event))
        assert json.loads(encode_event(event).decode("utf-8")) == event


def test_hostile_text_is_cleaned_not_rejected_when_lenient():
    event = lenient("PAGE_VIEW", {**IDS, "category": broken_lazy(), "params": deep(3)})
    assert event["category"] == "Home \ufffd"
    assert event["params"] == {"k": [{"k": [{"k": ["bottom \ufffd"]}]}]}
    assert lenient("PAGE_VIEW", {**IDS, "userId": NulInt(5)})["userId"] == "1"


@pytest.mark.parametrize("strict", [True, False])
def test_huge_int_in_params_is_a_validation_error(strict):
    # json.dumps cannot write an int of 5001 digits: an encoding failure.
    params = {"a": 10**5000}
    with pytest.raises(DengageValidationError) as info:
        build_event("PAGE_VIEW", {**IDS, "params": params}, strict=strict)
    assert info.value.event == "PAGE_VIEW"
    assert "could not be encoded as UTF-8 JSON" in info.value.message


@pytest.mark.parametrize("strict", [True, False])
def test_unicode_error_while_encoding_is_a_validation_error(monkeypatch, strict):
    # Last line of defence: were a surrogate to slip past the validators,
    # encoding it still raises a DengageValidationError, not UnicodeEncodeError.
    monkeypatch.setattr(events, "clean_text", lambda text: text)
    monkeypatch.setattr(events, "_clean", lambda text, strict: text, raising=False)
    with pytest.raises(DengageValidationError) as info:
        build_event("PAGE_VIEW", {**IDS, "category": SURROGATE}, strict=strict)
    assert info.value.event == "PAGE_VIEW"
    assert info.value.field is None
    assert "could not be encoded as UTF-8 JSON: UnicodeEncodeError" in info.value.message
    assert storable(str(info.value))


def test_lazy_text_that_fails_names_its_field():
    error = rejected("PAGE_VIEW", {**IDS, "category": failing_lazy()}, "category", "RuntimeError")
    assert "translation broke" in error.message


def test_unknown_event_name_is_named_safely():
    with pytest.raises(DengageValidationError) as info:
        build_event("PAGE\x00VIEW\ud83d", IDS)
    assert storable(info.value.event)
    assert storable(str(info.value))
    assert build_event("PAGE_VIEW", IDS)["userId"] == "u1"


# --- visitor_text ------------------------------------------------------------------


class Weird:
    def __str__(self):
        return "a\x00b\ud83d" * 3000


class NoStr:
    def __str__(self):
        raise RuntimeError("no str")

    __repr__ = __str__


VISITOR_INPUTS = [
    "x" * 5000,
    "http://shop.test/?" + "q=%00\x00\ud83d&" * 2000,
    "\x00" * 5000 + "y" * 5000,
    "\ud83d" * 5000,
    b"caf\xc3\xa9 \xff" * 2000,
    Weird(),
    NoStr(),
    10**5000,
    12345,
    "",
]


@pytest.mark.parametrize("value", VISITOR_INPUTS, ids=range(len(VISITOR_INPUTS)))
@pytest.mark.parametrize("cap", [None, 0, 1, 7, 100])
def test_visitor_text_is_clean_and_capped_in_every_case(value, cap):
    text = visitor_text(value, cap) if cap is not None else visitor_text(value)
    assert type(text) is str
    assert storable(text)
    assert len(text) <= (2048 if cap is None else cap)


@override_settings(DENGAGE_MAX_STRING_LENGTH=10)
def test_visitor_text_default_cap_is_the_setting():
    assert visitor_text("x" * 50) == "x" * 10
    assert visitor_text("x" * 50, 20) == "x" * 20


def test_visitor_text_values():
    assert visitor_text(None) is None
    assert visitor_text(None, 5) is None
    assert visitor_text("") == ""
    assert visitor_text("http://shop.test/") == "http://shop.test/"
    assert visitor_text("a\x00b\ud83dc") == "ab\ufffdc"
    assert visitor_text("\x00\x00abcdef", 4) == "abcd"  # cleaned, then cut
    assert visitor_text("\ud83d" * 10, 4) == "\ufffd" * 4
    assert visitor_text(12345, 3) == "123"
    assert visitor_text(Weird(), 4) == "ab\ufffda"
    assert visitor_text(b"caf\xc3\xa9 \xff") == "café \ufffd"
    assert isinstance(visitor_text(NoStr()), str)


def test_visitor_text_makes_any_url_valid_in_strict_mode():
    url = "http://shop.test/search?" + "q=shoes\x00\ud83d&" * 1000
    broken_bytes = url.encode("utf-8", "surrogatepass")  # not valid UTF-8
    fields = {**IDS, "pageUrl": visitor_text(url), "referrer": visitor_text(broken_bytes)}
    event = build_event("PAGE_VIEW", fields, strict=True)
    assert len(event["pageUrl"]) == 2048
    assert event["pageUrl"].startswith("http://shop.test/search?q=shoes\ufffd&q=")
    assert event["referrer"].startswith("http://shop.test/search?q=shoes\ufffd")


# --- sanitize_for_storage ------------------------------------------------------------


def test_sanitize_for_storage_cleans_keys_and_values():
    raw = {
        "a\x00": "b\x00",
        "\ud83d": "\udc80x",
        "list": ["\x00", {"k\ud800": "v\x00"}, ("t\ud83d",)],
        3: "x\x00",
        BrokenRepr(): BrokenRepr(),
        "lazy": broken_lazy(),
        "bytes": b"\x00\xff",
        "big": 10**5000,
        "ok": [1, 2.5, None, True, "fine"],
    }
    stored = sanitize_for_storage(raw)
    body = json.dumps(stored, ensure_ascii=False).encode("utf-8")
    assert b"\\u0000" not in json.dumps(stored).encode("utf-8")
    assert json.loads(body) == stored
    assert all(storable(text) for text in all_strings(stored))
    assert stored["a"] == "b"
    assert stored["\ufffd"] == "\ufffdx"
    assert stored["list"] == ["", {"k\ufffd": "v"}, ["t\ufffd"]]
    assert stored["3"] == "x"
    assert stored["broken  \ufffd repr"] == "broken  \ufffd repr"
    assert stored["lazy"] == "Home \ufffd"
    assert stored["ok"] == [1, 2.5, None, True, "fine"]
    assert isinstance(stored["big"], str)


@pytest.mark.parametrize("raw", ["\x00\ud83d", BrokenRepr(), ["\ud800"], {"\x00": "\x00"}])
def test_sanitize_for_storage_non_mappings_and_fallbacks(raw):
    stored = sanitize_for_storage(raw)
    assert isinstance(stored, dict)
    json.dumps(stored).encode("utf-8")
    assert all(storable(text) for text in all_strings(stored))


def test_sanitize_for_storage_checks_the_copy_encodes(monkeypatch):
    # Were a surrogate to slip past the cleaning, the copy falls back to a repr.
    monkeypatch.setattr(events, "clean_text", lambda text: text)
    stored = sanitize_for_storage({"a": "\ud83d"})
    json.dumps(stored, ensure_ascii=False).encode("utf-8")
    assert stored == {"value": "{'a': '\\ud83d'}"}
