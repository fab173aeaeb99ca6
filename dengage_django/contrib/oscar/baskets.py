"""Oscar's baskets and orders as CHECKOUT fields, and the removals from a
visitor's basket as BASKET_OPERATIONS ``remove``.

Oscar sends no signal for a removal. A basket line deleted, moved out of
the basket (to the "saved for later" basket) or saved with a lower quantity
is one, noted on the request's tracker (``tracker.state``) and recorded when
the view has answered (:func:`record_removals`, the middleware's hook). At
login Oscar merges the visitor's anonymous basket into the user's: it moves
or deletes the anonymous basket's lines, then saves that basket as
"Merged"; the removals noted for a basket merged during the request are
dropped (:func:`forget_merged`): a merge removes nothing from the visitor's
basket.
"""

from __future__ import annotations

from typing import Any

from ...tracking.context import current_tracker

#: ``tracker.state`` key of the removals noted during a request:
#: ``[(basket pk, product pk, quantity), ...]``.
REMOVALS = "dengage_oscar.removals"
#: The attribute a basket line keeps its loaded (basket pk, quantity) in.
LOADED = "_dengage_loaded_line"


def _known(incl_tax: Any, excl_tax: Any, tax_known: bool) -> Any:
    return incl_tax if tax_known else excl_tax


def _item(product_id: Any, price: Any, quantity: int, currency: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"productId": str(product_id), "quantity": quantity}
    if price is not None:
        item["price"] = price
    if currency:
        item["currency"] = currency
    return item


def basket_fields(basket: Any) -> dict[str, Any] | None:
    """``total_price``, ``products`` and ``currency`` of an Oscar basket (with
    its strategy, as ``request.basket`` is), incl. tax where known; ``None``
    for an empty basket."""
    lines = list(basket.all_lines())
    if not lines:
        return None
    currency = basket.currency
    products = []
    for line in lines:
        price = _known(line.unit_price_incl_tax, line.unit_price_excl_tax, line.is_tax_known)
        products.append(_item(line.product_id, price, line.quantity, currency))
    total = _known(basket.total_incl_tax, basket.total_excl_tax, basket.is_tax_known)
    return {"total_price": total, "products": products, "currency": currency}


def _coupons(order: Any) -> str | None:
    codes = sorted({d.voucher_code for d in order.discounts.all() if d.voucher_code})
    return ", ".join(codes) or None


def order_fields(order: Any) -> dict[str, Any]:
    """The CHECKOUT ``purchase`` fields (wire names) of a placed Oscar order:
    its number, totals incl. tax, discount, shipping, tax, voucher codes and
    lines."""
    currency = order.currency
    products = [
        _item(
            line.product_id if line.product_id is not None else line.partner_sku,
            line.unit_price_incl_tax,
            line.quantity,
            currency,
        )
        for line in order.lines.all()
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


# -- removals --------------------------------------------------------------------


def _note(basket_id: Any, product_id: Any, quantity: int) -> None:
    tracker = current_tracker.get()
    if tracker is None or not tracker.active or product_id is None or quantity <= 0:
        return
    tracker.state.setdefault(REMOVALS, []).append((basket_id, product_id, quantity))


def remember_loaded(instance: Any) -> None:
    """Keep a line's basket and quantity as loaded (or last saved)."""
    values = instance.__dict__  # deferred fields stay unread
    if "basket_id" in values and "quantity" in values:
        setattr(instance, LOADED, (values["basket_id"], values["quantity"]))


def line_saving(instance: Any, open_status: str) -> None:
    """Before a basket line is saved: note a removal when its quantity went
    down, or when it leaves its basket for one that is not open (saved for
    later); a line moved into an open basket is a merge."""
    loaded = getattr(instance, LOADED, None)
    if instance.pk is None or loaded is None:
        return
    basket_id, quantity = loaded
    if instance.basket_id != basket_id:
        if instance.basket.status != open_status:
            _note(basket_id, instance.product_id, quantity)
    elif instance.quantity is not None and instance.quantity < quantity:
        _note(basket_id, instance.product_id, quantity - instance.quantity)


def line_deleted(instance: Any) -> None:
    """A basket line deleted: its quantity as loaded is removed."""
    loaded = getattr(instance, LOADED, None)
    basket_id, quantity = loaded if loaded is not None else (instance.basket_id, instance.quantity)
    _note(basket_id, instance.product_id, quantity or 0)


def forget_merged(basket: Any, merged_status: str) -> None:
    """A basket saved as merged: what its lines' moves and deletions noted
    is no removal."""
    if basket.status != merged_status:
        return
    tracker = current_tracker.get()
    noted = tracker.state.get(REMOVALS) if tracker is not None else None
    if noted:
        noted[:] = [removal for removal in noted if removal[0] != basket.pk]


def record_removals(tracker: Any) -> None:
    """BASKET_OPERATIONS ``remove`` for each removal noted during the
    request (taken off the tracker)."""
    for _, product_id, quantity in tracker.state.pop(REMOVALS, None) or ():
        tracker.basket_remove(str(product_id), quantity=quantity)
