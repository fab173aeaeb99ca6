"""Oscar's baskets and orders as CHECKOUT fields, and what leaves or comes
back to a visitor's basket without Oscar's ``basket_addition`` as
BASKET_OPERATIONS.

Oscar sends no signal for a removal. What happens to the lines of an open
basket (the visitor's) is noted on the request's tracker
(``tracker.state``) and recorded once the view has answered
(:func:`record_notes`, the middleware's hook):

* a line deleted, saved with a lower quantity, or moved to a basket that is
  not open ("saved for later"): a ``remove`` of the quantity that left;
* a line saved with a higher quantity (the basket page's form, a
  django-oscar-api line update): an ``add`` of the difference, unless
  Oscar's ``basket_addition`` reports it (:func:`forget_raised`);
* a line moved from the "saved for later" basket into an open one: an
  ``add``; moved back onto a line of the same product (Oscar raises that
  line's quantity and deletes the saved one): an ``add`` too;
* lines of other baskets (saved, frozen, submitted) change nothing.

At login Oscar merges the visitor's anonymous basket into the customer's:
it moves lines between open baskets (nothing) or deletes the anonymous
basket's lines (raising the customer's to the larger quantity), then
saves that basket as "Merged"; then the removals noted for that basket
and the raised lines are dropped (:func:`forget_merged`): a merge adds and
removes nothing. A request answered with a server error records none of
its notes (with ``ATOMIC_REQUESTS`` its changes were rolled back; without,
a change committed before the error goes unreported too).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from ...conf import dengage_settings
from ...recording.subject import visitor_tracker
from .products import line_product_id

logger = logging.getLogger(__name__)

#: ``tracker.state`` key of what was noted during a request:
#: ``[(kind, basket pk, line), ...]``, kind one of :data:`REMOVED`,
#: :data:`RESTORED`, :data:`UNSAVED`, :data:`RAISED`.
NOTES = "dengage_oscar.basket_notes"
#: A quantity that left an open basket (``line.quantity`` is what left).
REMOVED = "removed"
#: A saved line moved into an open basket.
RESTORED = "restored"
#: A saved line deleted (restored onto a line of the same product, when
#: one was :data:`RAISED` in the same request).
UNSAVED = "unsaved"
#: An open basket's line raised (by ``quantity`` more).
RAISED = "raised"
#: The attribute a basket line keeps its loaded (basket pk, quantity) in.
LOADED = "_dengage_loaded_line"


def _item(product_id: Any, price: Any, quantity: int, currency: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"productId": str(product_id), "quantity": quantity}
    if price is not None:
        item["price"] = price
    if currency:
        item["currency"] = currency
    return item


def basket_fields(basket: Any) -> dict[str, Any] | None:
    """``total_price``, ``products`` and ``currency`` of an Oscar basket (with
    its strategy, as ``request.basket`` is), incl. tax where the strategy
    knows it (else excl. tax: a US-style deferred tax); ``None`` for an
    empty basket."""
    lines = [line for line in basket.all_lines() if line.product_id is not None]
    if not lines:
        return None
    currency = basket.currency
    # One choice for the lines and the total: never incl. tax for some.
    with_tax = basket.is_tax_known
    products = []
    for line in lines:
        price = line.unit_price_incl_tax if with_tax else line.unit_price_excl_tax
        products.append(_item(line_product_id(line), price, line.quantity, currency))
    total = basket.total_incl_tax if with_tax else basket.total_excl_tax
    return {"total_price": total, "products": products, "currency": currency}


def _coupons(order: Any) -> str | None:
    codes = sorted({d.voucher_code for d in order.discounts.all() if d.voucher_code})
    return ", ".join(codes) or None


def order_fields(order: Any) -> dict[str, Any]:
    """The CHECKOUT ``purchase`` fields (wire names) of a placed Oscar order:
    its number, totals incl. tax, discount, shipping, tax, voucher codes and
    lines (a line whose product is gone by its partner SKU)."""
    currency = order.currency
    products = [
        _item(
            line_product_id(line) or line.partner_sku,
            line.unit_price_incl_tax,
            line.quantity,
            currency,
        )
        for line in order.lines.select_related("product")
    ]
    fields: dict[str, Any] = {
        "step": "purchase",
        "orderNo": str(order.number),
        "totalPrice": order.total_incl_tax,
        "productList": products,
        "currency": currency,
        "totalDiscount": order.total_discount_incl_tax,
        "shipment": order.shipping_incl_tax,
        "tax": order.total_tax,
        "coupon": _coupons(order),
    }
    return {name: value for name, value in fields.items() if value is not None}


# -- what happens to basket lines ------------------------------------------------


def _note(kind: str, basket_id: Any, line: Any, quantity: int) -> None:
    tracker = visitor_tracker()
    if tracker is None or line.product_id is None or quantity <= 0:
        return
    tracker.state.setdefault(NOTES, []).append((kind, basket_id, line.product_id, quantity, line))


def remember_loaded(instance: Any) -> None:
    """Keep a line's basket and quantity as loaded (or last saved)."""
    values = instance.__dict__  # deferred fields stay unread
    if "basket_id" in values and "quantity" in values:
        setattr(instance, LOADED, (values["basket_id"], values["quantity"]))


def _status(basket_model: Any, basket_id: Any) -> str | None:
    return basket_model.objects.filter(pk=basket_id).values_list("status", flat=True).first()


def line_saving(instance: Any, basket_model: Any) -> None:
    """Before a basket line is saved (see the module docstring)."""
    loaded = getattr(instance, LOADED, None)
    if instance.pk is None or loaded is None or visitor_tracker() is None:
        return
    basket_id, quantity = loaded
    open_status = basket_model.OPEN
    if instance.basket_id != basket_id:
        was_open = _status(basket_model, basket_id) == open_status
        is_open = instance.basket.status == open_status
        if was_open and not is_open:
            _note(REMOVED, basket_id, instance, quantity)
        elif is_open and not was_open:
            _note(RESTORED, instance.basket_id, instance, instance.quantity)
        return
    if instance.quantity is None or instance.quantity == quantity:
        return
    if instance.basket.status != open_status:
        return
    if instance.quantity < quantity:
        _note(REMOVED, basket_id, instance, quantity - instance.quantity)
    else:
        _note(RAISED, basket_id, instance, instance.quantity - quantity)


def line_deleted(instance: Any, basket_model: Any) -> None:
    """A basket line deleted: its quantity as loaded left an open basket,
    or a saved line went (perhaps onto a raised line)."""
    if visitor_tracker() is None:
        return
    loaded = getattr(instance, LOADED, None)
    basket_id, quantity = loaded if loaded is not None else (instance.basket_id, instance.quantity)
    status = _status(basket_model, basket_id)
    if status == basket_model.OPEN:
        _note(REMOVED, basket_id, instance, quantity or 0)
    elif status == basket_model.SAVED:
        _note(UNSAVED, basket_id, instance, quantity or 0)


def _drop(tracker: Any, dropped: Callable[[tuple[Any, ...]], bool]) -> None:
    noted = tracker.state.get(NOTES) if tracker is not None else None
    if noted:
        noted[:] = [note for note in noted if not dropped(note)]


def forget_merged(basket: Any, merged_status: str) -> None:
    """A basket saved as merged: what its lines' moves and deletions noted
    is no removal, and the lines the merge raised no addition."""
    if basket.status == merged_status:
        _drop(
            visitor_tracker(),
            lambda note: note[0] == RAISED or (note[0] == REMOVED and note[1] == basket.pk),
        )


def forget_raised(product_pk: Any) -> None:
    """Oscar's ``basket_addition`` reports the line ``add_product`` raised:
    not an addition of its own."""
    _drop(visitor_tracker(), lambda note: note[0] == RAISED and note[2] == product_pk)


def _operations(notes: list[tuple[Any, ...]]) -> list[tuple[str, Any, int]]:
    """``(step, line, quantity)`` of the notes: removals as noted; a saved
    line restored; a saved line deleted onto a line of its product raised
    as much (Oscar's move back onto it); what else was raised."""
    raised: Counter[Any] = Counter()
    for kind, _, product, quantity, _ in notes:
        if kind == RAISED:
            raised[product] += quantity
    operations = []
    for kind, _, product, quantity, line in notes:
        if kind == REMOVED:
            operations.append(("remove", line, quantity))
        elif kind == RESTORED:
            operations.append(("add", line, quantity))
        elif kind == UNSAVED and raised[product] >= quantity:
            raised[product] -= quantity
            operations.append(("add", line, quantity))
    for kind, _, product, quantity, line in notes:
        if kind == RAISED and raised[product] > 0:
            operations.append(("add", line, min(quantity, raised[product])))
            raised[product] -= min(quantity, raised[product])
    return operations


def record_notes(
    tracker: Any, response: Any, price_fields: Callable[[Any, Any], dict[str, Any]]
) -> None:
    """The BASKET_OPERATIONS of what was noted during the request (taken off
    the tracker; none after a server error); an ``add``'s price from
    ``price_fields(product, request)`` (none when it fails). Each on its
    own: one that fails is logged (raised in strict mode), the others go
    on."""
    notes = tracker.state.pop(NOTES, None) or []
    if response.status_code >= 500:
        return
    for step, line, quantity in _operations(notes):
        try:
            product_id = line_product_id(line)
            if step == "remove":
                tracker.basket_remove(product_id, quantity=quantity)
                continue
            try:
                fields = price_fields(line.product, tracker.request)
            except Exception:
                logger.exception("no price for Oscar product %r", line.product_id)
                fields = {}
            tracker.basket_add(product_id, quantity=quantity, **fields)
        except Exception:
            if dengage_settings.STRICT:
                raise
            logger.exception("dengage-django: a basket %s was not recorded", step)
