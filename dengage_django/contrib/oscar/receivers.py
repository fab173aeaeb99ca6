"""Oscar's signals as Dengage events, recorded through the request's
tracker (``request.dengage``), so they carry the visitor's ids and are
stored with the page's other events. A failure never breaks Oscar's page
outside strict mode (the tracker's helpers log it)."""

from __future__ import annotations

import logging
from typing import Any

from ...conf import dengage_settings
from ...tracking.context import current_tracker
from .products import price_fields, product_fields

logger = logging.getLogger(__name__)


def _tracker(request: Any) -> Any:
    return getattr(request, "dengage", None)


def _read(read: Any, product: Any, request: Any, what: str) -> dict[str, Any] | None:
    """``read(product, request)``; ``None``, logged, when Oscar fails us
    (raised in strict mode)."""
    try:
        return read(product, request)
    except Exception:
        if dengage_settings.STRICT:
            raise
        logger.exception("no %s for Oscar product %r", what, getattr(product, "pk", None))
        return None


def on_product_viewed(sender: Any, product: Any, user: Any, request: Any, **kwargs: Any) -> None:
    """``catalogue.signals.product_viewed``: a PRODUCT_VIEW."""
    tracker = _tracker(request)
    if tracker is None or not tracker.active:
        return
    fields = _read(product_fields, product, request, "PRODUCT_VIEW")
    if fields is not None:
        tracker.product_view(**fields)


def _quantity(value: Any) -> int:
    try:
        quantity = int(value)
    except (TypeError, ValueError):
        return 1
    return quantity if quantity > 0 else 1


def on_basket_addition(sender: Any, product: Any, user: Any, request: Any, **kwargs: Any) -> None:
    """``basket.signals.basket_addition``: BASKET_OPERATIONS ``add``. The
    signal carries no quantity: it is the add form's, from the POST; the
    price is the request's strategy's."""
    tracker = _tracker(request)
    if tracker is None or not tracker.active:
        return
    fields = _read(price_fields, product, request, "price") or {}
    quantity = _quantity(request.POST.get("quantity"))
    tracker.basket_add(str(product.pk), quantity=quantity, **fields)


def on_user_search(sender: Any, query: Any = "", **kwargs: Any) -> None:
    """``search.signals.user_search``: a SEARCH. The signal carries no
    request: the request's tracker is the current one."""
    tracker = current_tracker.get()
    if tracker is None or not tracker.active or not isinstance(query, str) or not query.strip():
        return
    tracker.search(query)


def connect() -> None:
    """Connect the receivers to Oscar's signals (the app's ``ready()``),
    loaded as Oscar loads them (``get_class``: a forked app's signals)."""
    from oscar.core.loading import get_class

    for module, name, receiver in (
        ("catalogue.signals", "product_viewed", on_product_viewed),
        ("basket.signals", "basket_addition", on_basket_addition),
        ("search.signals", "user_search", on_user_search),
    ):
        signal = get_class(module, name)
        signal.connect(receiver, dispatch_uid=f"dengage_django.oscar.{name}")
