"""Oscar's signals as Dengage events, recorded through the request's
tracker (``request.dengage``), so they carry the visitor's ids and are
stored with the page's other events.

Oscar sends its signals with ``Signal.send``: whatever a receiver raised
would break Oscar's page (after Oscar's own work, a basket line already
saved). Each receiver here logs what fails instead, raising only in strict
mode."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from ...conf import dengage_settings
from ...tracking.context import current_tracker
from ...tracking.policy import is_page_view, is_prefetch
from .products import price_fields, product_fields

logger = logging.getLogger(__name__)


def _guarded(receiver: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(receiver)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            receiver(*args, **kwargs)
        except Exception:
            if dengage_settings.STRICT:
                raise
            logger.exception("dengage-django: %s failed; Oscar's page goes on", receiver.__name__)

    return guarded


def _tracker(request: Any) -> Any:
    tracker = getattr(request, "dengage", None)
    return tracker if tracker is not None and tracker.active else None


def _is_public(product: Any) -> bool:
    """Whether visitors may see ``product`` (Oscar lets staff open the
    others: never sent, Dengage would recommend them)."""
    if not product.is_public:
        return False
    return not product.is_child or product.parent.is_public


@_guarded
def on_product_viewed(
    sender: Any, product: Any, user: Any, request: Any, response: Any = None, **kwargs: Any
) -> None:
    """``catalogue.signals.product_viewed``: a PRODUCT_VIEW, for a page a
    visitor saw (not a HEAD or a prefetch) of a public product."""
    tracker = _tracker(request)
    if tracker is None or response is None or not is_page_view(request, response):
        return
    if _is_public(product):
        tracker.product_view(**product_fields(product, request))


def _quantity(request: Any) -> int:
    data: Any = getattr(request, "data", None)  # django-oscar-api: a DRF request
    if not hasattr(data, "get"):
        data = request.POST
    try:
        quantity = int(data.get("quantity", 1))
    except (TypeError, ValueError):
        return 1
    return quantity if quantity > 0 else 1


@_guarded
def on_basket_addition(sender: Any, product: Any, user: Any, request: Any, **kwargs: Any) -> None:
    """``basket.signals.basket_addition``: BASKET_OPERATIONS ``add``. The
    signal carries no quantity: it is the add form's (the POST's, or the
    body of a django-oscar-api request); the price is the request's
    strategy's (none when Oscar cannot price it)."""
    tracker = _tracker(request)
    if tracker is None:
        return
    try:
        fields = price_fields(product, request)
    except Exception:
        if dengage_settings.STRICT:
            raise
        logger.exception("no price for Oscar product %r", getattr(product, "pk", None))
        fields = {}
    tracker.basket_add(str(product.pk), quantity=_quantity(request), **fields)


#: Query parameters of a results page that does not start a search.
_BROWSING = ("page", "sort_by", "selected_facets")


@_guarded
def on_user_search(sender: Any, query: Any = "", **kwargs: Any) -> None:
    """``search.signals.user_search``: a SEARCH, once per search. Oscar
    sends the signal for every results page: its next pages, sorting and
    facets are no new search. The signal carries no request: the
    request's tracker is the current one."""
    tracker = current_tracker.get()
    if tracker is None or not tracker.active or not isinstance(query, str) or not query.strip():
        return
    request = tracker.request
    if request.method != "GET" or is_prefetch(request):
        return
    if request.GET.get("page", "1") not in ("", "1") or any(
        request.GET.getlist(name) for name in _BROWSING[1:]
    ):
        return
    tracker.search(query)


def connect() -> None:
    """Connect the receivers to Oscar's signals (the app's ``ready()``):
    Oscar's own, which its views send, and those ``get_class`` loads (a
    forked app's, if it defines its own); one connection when they are the
    same object."""
    from importlib import import_module

    from oscar.core.loading import get_class

    for app, name, receiver in (
        ("catalogue", "product_viewed", on_product_viewed),
        ("basket", "basket_addition", on_basket_addition),
        ("search", "user_search", on_user_search),
    ):
        signals = {
            get_class(f"{app}.signals", name),
            getattr(import_module(f"oscar.apps.{app}.signals"), name),
        }
        for signal in signals:
            signal.connect(receiver, dispatch_uid=f"dengage_django.oscar.{name}")
