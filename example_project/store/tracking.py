"""What the store's own models report to Dengage (see ``StoreConfig.ready``).

A purchase is reported when its order turns "paid", in one of two places:

* at checkout, in the visitor's own request (PayPal, cash on delivery, a
  guest's card): saving the order as "paid" runs :func:`order_events`
  (``register_model``), in the order's transaction;
* in the payment webhook (a signed-in customer's card, confirmed later by
  the payment provider): the webhook turns the order paid with an UPDATE,
  which runs no ``post_save``, and records the purchase itself with
  ``dengage_django.track(..., user=order.customer)`` (see
  ``views.payment_webhook``).
"""

from .basket import CURRENCY
from .models import Order


def purchase(order):
    """The CHECKOUT purchase step's fields for ``order``."""
    return {
        "step": "purchase",
        "total_price": order.total,
        "currency": CURRENCY,
        "product_list": [
            {"product_id": line.product.sku, "price": line.price, "quantity": line.quantity}
            for line in order.lines.select_related("product")
        ],
        "order_no": order.pk,
        "payment_type": order.payment_type,
    }


def order_events(order, created, changes):
    """An order saved as "paid" is the purchase step of the checkout (the
    admin setting an order to "paid" included)."""
    if changes.get("status", (None, None))[1] != Order.PAID:
        return None
    return "CHECKOUT", {**purchase(order), "user": order.customer}
