"""An Oscar product as a PRODUCT_VIEW, priced as the request's pricing
strategy prices it (what the shop displays), and its ``productId``.

``DENGAGE_OSCAR_PRODUCT_ADAPTER`` names another ``f(product, request) ->
mapping`` (:func:`adapter`); it may start from :func:`product_fields`.
``DENGAGE_OSCAR_PRODUCT_ID`` names ``f(product) -> id``, the id of a
product in every event (:func:`product_id`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...conf import dengage_settings


def _absolute(request: Any, url: str | None) -> str | None:
    if not url:
        return None
    try:
        return request.build_absolute_uri(url)
    except Exception:  # DisallowedHost and friends: no URL rather than no event
        return None


def _image(request: Any, product: Any) -> str | None:
    image = product.primary_image()
    # Without an image Oscar answers a dict describing its placeholder.
    original = getattr(image, "original", None)
    if not original:
        return None
    try:
        return _absolute(request, original.url)
    except ValueError:  # a file field without a file
        return None


def _stock_info(request: Any, product: Any) -> Any:
    strategy = getattr(request, "strategy", None)
    if strategy is None:
        return None
    if product.is_parent:
        return strategy.fetch_for_parent(product)
    return strategy.fetch_for_product(product)


def _brand(product: Any) -> str | None:
    """The value of the ``DENGAGE_OSCAR_BRAND_ATTRIBUTE`` attribute (a
    child's own, else its parent's); an option's text for an option."""
    code = dengage_settings.OSCAR_BRAND_ATTRIBUTE
    if not code:
        return None
    for owner in (product, product.parent if product.is_child else None):
        if owner is None:
            continue
        value = getattr(owner.attr, code, None)
        if value not in (None, ""):
            return str(getattr(value, "option", value))
    return None


def product_id(product: Any) -> str:
    """The ``productId`` of Oscar ``product`` in every event (its page, the
    basket, checkout and orders): ``DENGAGE_OSCAR_PRODUCT_ID``'s, else its
    primary key."""
    configured = dengage_settings.callable("OSCAR_PRODUCT_ID")
    return str(configured(product) if configured else product.pk)


def line_product_id(line: Any) -> str | None:
    """The ``productId`` of a basket or order line's product (``None``: the
    product is gone), without loading the product when ids are primary
    keys."""
    if line.product_id is None:
        return None
    if not dengage_settings.OSCAR_PRODUCT_ID:
        return str(line.product_id)
    return product_id(line.product)


def product_fields(product: Any, request: Any) -> dict[str, Any]:
    """PRODUCT_VIEW fields of Oscar ``product`` for ``request``: id, title,
    url, image, categories ("A > B > C"), brand, price incl. tax where the
    strategy knows the tax (else excl. tax) with its currency, stock; a
    child reports its parent as ``groupId``."""
    parent = product.parent if product.is_child else None
    fields: dict[str, Any] = {
        "productId": product_id(product),
        "title": product.get_title(),
        "url": _absolute(request, product.get_absolute_url()),
        "image": _image(request, product),
        "brand": _brand(product),
    }
    if parent is not None:
        fields["groupId"] = product_id(parent)
    # A list when the product was loaded with Oscar's category prefetch.
    categories = [category.full_name for category in product.get_categories()]
    if categories:
        fields["categories"] = categories
        fields["category"] = categories[0]
    info = _stock_info(request, product)
    fields.update(_price(info))
    availability = getattr(info, "availability", None)
    if availability is not None:
        fields["inStock"] = bool(availability.is_available_to_buy)
    return {name: value for name, value in fields.items() if value is not None}


def _price(info: Any) -> dict[str, Any]:
    price = getattr(info, "price", None)
    if price is None or not price.exists:
        return {}
    amount = price.incl_tax if price.is_tax_known else price.excl_tax
    return {"price": amount, "currency": price.currency}


def price_fields(product: Any, request: Any) -> dict[str, Any]:
    """``price`` and ``currency`` of ``product`` as the request's strategy
    prices it (``{}`` when it cannot)."""
    return _price(_stock_info(request, product))


def adapter() -> Callable[[Any, Any], Mapping[str, Any]]:
    """``DENGAGE_OSCAR_PRODUCT_ADAPTER`` (imported when a dotted path), else
    :func:`product_fields`."""
    return dengage_settings.callable("OSCAR_PRODUCT_ADAPTER") or product_fields
