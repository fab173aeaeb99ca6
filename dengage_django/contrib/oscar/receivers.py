"""Oscar's signals as Dengage events, recorded through the request's
tracker (``request.dengage``), so they carry the visitor's ids and are
stored with the page's other events.

Oscar sends its signals with ``Signal.send``: whatever a receiver raised
would break Oscar's page (after Oscar's own work, a basket line already
saved). Each receiver here logs what fails instead, raising only in strict
mode; never for a signal sent once Oscar's work is committed (an order
placed, a line added), where raising would show the visitor an error for
what did happen (Oscar's checkout would offer to place the order again)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from ... import outbox
from ...conf import dengage_settings
from ...recording.subject import is_visitor, real_user, record_about, visitor_tracker
from ...tracking.policy import is_page_view, is_prefetch
from . import baskets
from .pages import checkout_step
from .products import adapter, price_fields, product_id

logger = logging.getLogger(__name__)


def _guarded(receiver: Callable[..., None], *, after_commit: bool = False) -> Callable[..., None]:
    """``receiver`` logging what it raises; raising it again in strict mode
    unless ``after_commit`` (Oscar's work is done: see the module
    docstring). Logged before raising: ``send_robust`` swallows it."""

    @functools.wraps(receiver)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            receiver(*args, **kwargs)
        except Exception:
            logger.exception("dengage-django: %s failed; Oscar's page goes on", receiver.__name__)
            if dengage_settings.STRICT and not after_commit:
                raise

    return guarded


_after_commit = functools.partial(_guarded, after_commit=True)


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
    tracker = visitor_tracker(request)
    if tracker is None:
        return
    if response is None:  # a view of the shop's sends none: the request tells
        seen = request.method == "GET" and not is_prefetch(request)
    else:
        seen = is_page_view(request, response)
    if seen and _is_public(product):
        tracker.product_view(**adapter()(product, request))


def _quantity(request: Any) -> int:
    data: Any = getattr(request, "data", None)  # django-oscar-api: a DRF request
    if not hasattr(data, "get"):
        data = request.POST
    try:
        quantity = int(data.get("quantity", 1))
    except (TypeError, ValueError):
        return 1
    return quantity if quantity > 0 else 1


@_after_commit
def on_basket_addition(sender: Any, product: Any, user: Any, request: Any, **kwargs: Any) -> None:
    """``basket.signals.basket_addition``: BASKET_OPERATIONS ``add``. The
    signal carries no quantity: it is the add form's (the POST's, or the
    body of a django-oscar-api request); the price is the request's
    strategy's (none when Oscar cannot price it)."""
    tracker = visitor_tracker(request)
    if tracker is None:
        return
    baskets.forget_raised(product.pk)  # the line add_product raised: this add
    try:
        fields = price_fields(product, request)
    except Exception:  # the add without its price (in strict mode too)
        logger.exception("no price for Oscar product %r", getattr(product, "pk", None))
        fields = {}
    tracker.basket_add(product_id(product), quantity=_quantity(request), **fields)


#: Query parameters of a results page that does not start a search.
_BROWSING = ("page", "sort_by", "selected_facets")


@_guarded
def on_user_search(sender: Any, query: Any = "", **kwargs: Any) -> None:
    """``search.signals.user_search``: a SEARCH, once per search. Oscar
    sends the signal for every results page: its next pages, sorting and
    facets are no new search. The signal carries no request: the
    request's tracker is the current one."""
    tracker = visitor_tracker()
    if tracker is None or not isinstance(query, str) or not query.strip():
        return
    request = tracker.request
    if request.method != "GET" or is_prefetch(request):
        return
    if "page" in request.GET or any(request.GET.getlist(name) for name in _BROWSING[1:]):
        return
    tracker.search(query)


@_guarded
def on_start_checkout(sender: Any, request: Any, **kwargs: Any) -> None:
    """``checkout.signals.start_checkout`` (a guest giving their e-mail, a
    customer entering the checkout): CHECKOUT ``customer``."""
    tracker = visitor_tracker(request)
    if tracker is not None:
        checkout_step(tracker, "customer", getattr(request, "basket", None))


@_after_commit
def on_order_placed(sender: Any, order: Any, user: Any = None, **kwargs: Any) -> None:
    """``order.signals.order_placed``: CHECKOUT ``purchase``, once per order
    (Oscar sends the signal once, from the request placing it; the
    thank-you page sends none). Stored at once, in the transaction the
    order is placed in if one is still open: a rolled-back order records
    nothing. The signal carries no request: the purchase is the current
    request's visitor's (a guest's too); placed away from a visitor's
    browser (a payment provider's callback), the customer's, through their
    linked ids; a guest's order placed so is not recorded (no visitor to
    file it under)."""
    visitor = visitor_tracker()
    user = real_user(user)
    if user is None and visitor is None:
        logger.info("no visitor for Oscar order %s: its purchase is not recorded", order.number)
        return
    fields = baskets.order_fields(order)
    with transaction.atomic(using=outbox.db_alias()):
        if visitor is not None and (user is None or is_visitor(visitor, user)):
            visitor.track("CHECKOUT", basketId=visitor.basket_id, **fields)
        else:
            record_about("CHECKOUT", user, fields)  # the current request's tracker decides


def _model_receivers() -> None:
    """Basket lines and baskets: the removals (see :mod:`.baskets`)."""
    from django.db.models.signals import post_delete, post_init, post_save, pre_save
    from oscar.core.loading import get_model

    line_model = get_model("basket", "Line")
    basket_model = get_model("basket", "Basket")

    def loaded(sender: Any, instance: Any, **kwargs: Any) -> None:
        baskets.remember_loaded(instance)

    @_guarded
    def saving(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if not raw:
            baskets.line_saving(instance, basket_model)

    @_guarded
    def deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
        baskets.line_deleted(instance, basket_model)

    @_guarded
    def basket_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if not raw:
            baskets.forget_merged(instance, basket_model.MERGED)

    uid = "dengage_django.oscar."
    post_init.connect(loaded, sender=line_model, weak=False, dispatch_uid=uid + "line_loaded")
    pre_save.connect(saving, sender=line_model, weak=False, dispatch_uid=uid + "line_saving")
    # After the save, the new basket and quantity are what the next compares.
    post_save.connect(loaded, sender=line_model, weak=False, dispatch_uid=uid + "line_saved")
    post_delete.connect(deleted, sender=line_model, weak=False, dispatch_uid=uid + "line_deleted")
    post_save.connect(
        basket_saved, sender=basket_model, weak=False, dispatch_uid=uid + "basket_saved"
    )


def connect() -> None:
    """Connect the receivers to Oscar's signals (the app's ``ready()``):
    Oscar's own, which its views send, and those ``get_class`` loads (a
    forked app's, if it defines its own); one connection when they are the
    same object."""
    from importlib import import_module

    from oscar.core.exceptions import AppNotFoundError, ClassNotFoundError
    from oscar.core.loading import get_class

    for app, name, receiver in (
        ("catalogue", "product_viewed", on_product_viewed),
        ("basket", "basket_addition", on_basket_addition),
        ("search", "user_search", on_user_search),
        ("checkout", "start_checkout", on_start_checkout),
        ("order", "order_placed", on_order_placed),
    ):
        signals = {getattr(import_module(f"oscar.apps.{app}.signals"), name)}
        try:
            signals.add(get_class(f"{app}.signals", name))
        except (AppNotFoundError, ClassNotFoundError):  # a shop without that app
            logger.debug("no %s.signals.%s to load: Oscar's is listened to", app, name)
        for signal in signals:
            signal.connect(receiver, dispatch_uid=f"dengage_django.oscar.{name}")
    _model_receivers()
