"""Field values build_event refuses (ids, numbers, dates), and the
never-raising helpers for visitor text and raw input kept for invalid rows."""

from collections.abc import Mapping

import pytest

from dengage_django.events.validation import build_event, sanitize_for_storage, visitor_text
from dengage_django.exceptions import DengageValidationError

IDS = {"userId": "u1", "sessionId": "s1"}


def refused(name, **fields):
    with pytest.raises(DengageValidationError) as info:
        build_event(name, {**IDS, **fields})
    return info.value


@pytest.mark.parametrize("product_id", [3.5, True, ["P1"], {"id": "P1"}])
def test_an_id_must_be_a_string_or_an_integer(product_id):
    error = refused("PRODUCT_VIEW", productId=product_id)
    assert error.field == "productId"
    assert "must be a string or an integer id" in error.message


def test_an_integer_id_becomes_a_string():
    assert build_event("PRODUCT_VIEW", {**IDS, "productId": 42})["productId"] == "42"


def test_a_huge_integer_price_is_too_large_not_a_crash():
    error = refused("PRODUCT_VIEW", productId="P1", price=10**400)
    assert error.field == "price"
    assert error.message.startswith("is too large")


@pytest.mark.parametrize("price", [-1, "-0.5", -0.01])
def test_a_price_must_not_be_negative(price):
    error = refused("PRODUCT_VIEW", productId="P1", price=price)
    assert error.field == "price"
    assert "must be a non-negative number" in error.message


def test_a_zero_price_is_fine():
    assert build_event("PRODUCT_VIEW", {**IDS, "productId": "P1", "price": 0})["price"] == 0


@pytest.mark.parametrize("birth_date", [19900101, 1990.0, "1990-01-01"])
def test_a_date_must_be_a_date_or_dd_mm_yyyy(birth_date):
    error = refused("USER_OPERATIONS", step="signup", birthDate=birth_date)
    assert error.field == "birthDate"
    assert 'must be a date or a "dd.mm.yyyy" string' in error.message


def test_visitor_text_uses_the_setting_and_survives_a_cap_that_is_no_number(settings):
    settings.DENGAGE_MAX_STRING_LENGTH = 10
    assert visitor_text("x" * 50) == "x" * 10
    # A cap that is not a number falls back to 2048 characters, never raises.
    assert visitor_text("x" * 5000, cap="lots") == "x" * 2048


class _Unreadable(Mapping):
    """A mapping that fails when read (a broken ORM proxy, say)."""

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self):
        raise RuntimeError("cannot iterate")

    def __len__(self):
        return 1

    def __repr__(self):
        return "<Unreadable>"


def test_sanitize_for_storage_keeps_the_repr_of_a_mapping_that_cannot_be_read():
    assert sanitize_for_storage(_Unreadable()) == {"value": "<Unreadable>"}
    assert sanitize_for_storage({"basket": _Unreadable(), "n": 1}) == {
        "basket": "<Unreadable>",
        "n": 1,
    }
