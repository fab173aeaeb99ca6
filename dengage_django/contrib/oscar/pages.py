"""What the Oscar integration adds once an Oscar view has answered (the
middleware's hook, :mod:`dengage_django.tracking.hooks`): what happened to
the basket's lines (:mod:`.baskets`), the category path of a category page (its PAGE_VIEW's
subCategory), and the CHECKOUT steps of the pages that are one: the basket
page with lines (``basket``) and the payment details page (``payment``)."""

from __future__ import annotations

from typing import Any

from ...tracking.categories import category_for
from ...tracking.policy import is_page_view
from .baskets import basket_fields, record_notes
from .products import price_fields

#: CHECKOUT step of a page, by URL name (Oscar's, which forks keep).
CHECKOUT_PAGES = {
    "basket:summary": "basket",
    "checkout:payment-details": "payment",
}


def checkout_step(tracker: Any, step: str, basket: Any) -> None:
    """CHECKOUT ``step`` of ``basket`` (nothing for none, or an empty one)."""
    fields = basket_fields(basket) if basket is not None else None
    if fields is not None:
        tracker.checkout(step, **fields)


def _category(response: Any, kwargs: dict[str, Any]) -> Any:
    """The category a category page shows: the view's (its template's
    context), else the one its URL names."""
    context = getattr(response, "context_data", None) or {}
    category = context.get("category")
    if category is not None or "pk" not in kwargs:
        return category
    from oscar.core.loading import get_model

    return get_model("catalogue", "Category").objects.filter(pk=kwargs["pk"]).first()


def finish(tracker: Any, response: Any) -> None:
    """The middleware's hook for every tracked request (see the module
    docstring)."""
    record_notes(tracker, response, price_fields)
    request = tracker.request
    match = getattr(request, "resolver_match", None)
    if match is None or response.status_code != 200 or not is_page_view(request, response):
        return
    name = match.view_name
    # The view's subCategory, or the shop's setting's, wins over the path.
    if (
        name == "catalogue:category"
        and tracker.sub_category is None
        and category_for(request)[1] is None
    ):
        category = _category(response, match.kwargs)
        if category is not None:
            tracker.page(sub_category=category.full_name)
    step = CHECKOUT_PAGES.get(name)
    if step is not None:
        checkout_step(tracker, step, getattr(request, "basket", None))
