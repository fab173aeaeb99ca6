"""Turning a shop's products and baskets into event fields.

A product is a mapping of fields (wire names like ``productId`` or
snake_case like ``product_id``) or an object with a ``to_dengage()`` method
returning one. A basket is a mapping with ``total_price``, ``products`` (a
list of products) and optionally ``currency``, ``cart_url`` and
``basket_id`` (or their wire names), or an object whose ``to_dengage()``
returns one. ``DENGAGE_PRODUCT_ADAPTER`` / ``DENGAGE_BASKET_ADAPTER`` name
another callable (a dotted path or the callable itself) taking the object
and returning such a mapping.

Adapters raise :class:`DengageValidationError` when the object cannot be
read, so a bad product is handled like any other invalid event.
"""

from collections.abc import Mapping

from ..conf import dengage_settings
from ..exceptions import DengageValidationError
from .validation import snake_alias

#: Keys a checkout's productList item may carry (snake_case spelling).
ITEM_KEYS = ("product_id", "price", "currency", "quantity")
BASKET_KEYS = ("total_price", "products", "currency", "cart_url", "basket_id")


def _to_mapping(obj, event, setting, what):
    adapter = dengage_settings.callable(setting)
    try:
        if adapter is not None:
            data = adapter(obj)
        elif isinstance(obj, Mapping):
            data = obj
        elif callable(getattr(obj, "to_dengage", None)):
            data = obj.to_dengage()
        else:
            raise DengageValidationError(
                event, None, f"cannot read a {what} from {type(obj).__name__}"
            )
    except DengageValidationError:
        raise
    except Exception as exc:
        raise DengageValidationError(
            event, None, f"reading the {what} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(data, Mapping):
        raise DengageValidationError(
            event, None, f"the {what} adapter returned {type(data).__name__}, not a mapping"
        )
    return dict(data)


def product_fields(product, event="PRODUCT_VIEW"):
    """The fields of ``product`` (``None`` gives no fields)."""
    if product is None:
        return {}
    return _to_mapping(product, event, "PRODUCT_ADAPTER", "product")


def basket_item(product, event="CHECKOUT"):
    """One ``productList`` item: only the keys an item may carry."""
    fields = product_fields(product, event)
    return {
        key: value
        for key, value in fields.items()
        if snake_alias(key) in ITEM_KEYS and value is not None
    }


def basket_fields(basket, event="CHECKOUT"):
    """``total_price``, ``products`` (items) and the optional basket keys."""
    if basket is None:
        raise DengageValidationError(event, None, "no basket given")
    data = _to_mapping(basket, event, "BASKET_ADAPTER", "basket")
    fields = {}
    for key, value in data.items():
        name = snake_alias(key)
        if name == "product_list":
            name = "products"
        if name in BASKET_KEYS and value is not None:
            fields[name] = value
    products = fields.get("products")
    if products is None:
        raise DengageValidationError(event, "productList", "the basket has no products")
    if isinstance(products, (str, bytes, Mapping)) or not hasattr(products, "__iter__"):
        raise DengageValidationError(event, "productList", "the basket's products are not a list")
    fields["products"] = [basket_item(product, event) for product in products]
    return fields
