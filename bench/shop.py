"""A product page for the request-cost benchmark (bench/middleware.py).

The product row comes from the database, as on a real shop page (auth's
Group table stands in for a product table, so the bench needs no app).
"""

from decimal import Decimal

from django.contrib.auth.models import Group
from django.shortcuts import render
from django.urls import path


def product(request):
    row = Group.objects.get_or_create(name="Runner")[0]
    product = {
        "product_id": f"P{row.pk}",
        "title": row.name,
        "price": Decimal("349.99"),
        "category": "Men > Sports > Shoes",
        "colors": ["black", "red"],
    }
    return render(request, "bench_product.html", {"product": product})


urlpatterns = [path("p/1/", product)]
