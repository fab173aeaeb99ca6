"""The visitor's basket, kept in the session as ``{sku: quantity}``."""

from dataclasses import dataclass
from decimal import Decimal

from django.urls import reverse

from .models import Product, absolute

SESSION_KEY = "basket"
CURRENCY = "EUR"


@dataclass
class Line:
    product: Product
    quantity: int

    @property
    def price(self):
        return self.product.price

    @property
    def subtotal(self):
        return self.product.price * self.quantity

    def to_dengage(self):
        return {
            "product_id": self.product.sku,
            "price": self.product.price,
            "quantity": self.quantity,
            "currency": CURRENCY,
        }


class Basket:
    def __init__(self, session):
        self.session = session
        stored = session.get(SESSION_KEY) or {}
        self.items = {str(sku): int(quantity) for sku, quantity in stored.items()}
        self._lines = None

    def _save(self):
        self.session[SESSION_KEY] = self.items
        self.session.modified = True
        self._lines = None

    @property
    def lines(self):
        """The basket's lines, in the order they were added; unknown skus are skipped."""
        if self._lines is None:
            products = Product.objects.select_related("category").in_bulk(
                list(self.items), field_name="sku"
            )
            self._lines = [
                Line(products[sku], quantity)
                for sku, quantity in self.items.items()
                if sku in products
            ]
        return self._lines

    @property
    def total(self):
        return sum((line.subtotal for line in self.lines), Decimal("0.00"))

    @property
    def count(self):
        return sum(line.quantity for line in self.lines)

    def __len__(self):
        return len(self.lines)

    def __bool__(self):
        return bool(self.lines)

    def add(self, product, quantity=1):
        self.items[product.sku] = self.items.get(product.sku, 0) + quantity
        self._save()

    def remove(self, sku):
        """Drop the line of ``sku``; returns the quantity removed (0 if none)."""
        quantity = self.items.pop(sku, 0)
        self._save()
        return quantity

    def clear(self):
        self.items = {}
        self._save()

    def to_dengage(self):
        return {
            "total_price": self.total,
            "currency": CURRENCY,
            "cart_url": absolute(reverse("store:basket")),
            "products": [line.to_dengage() for line in self.lines],
        }
