"""What the store's own models report to Dengage (see ``StoreConfig.ready``)."""


def order_events(order, created, changes):
    """An order turning "paid" is the purchase step of the checkout."""
    if changes.get("status", (None, None))[1] != "paid":
        return None
    return "CHECKOUT", {
        "step": "purchase",
        "total_price": order.total,
        "currency": "EUR",
        "product_list": [
            {"product_id": line.product.sku, "price": line.price, "quantity": line.quantity}
            for line in order.lines.select_related("product")
        ],
        "order_no": order.pk,
        "payment_type": order.payment_type,
        "user": order.customer,
    }
