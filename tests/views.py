"""A tiny shop for the visitor-tracking tests."""

import json
from decimal import Decimal

from django.contrib.auth import authenticate, get_user_model, login, logout
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt

import dengage_django


class Product:
    """A shop model with ``to_dengage()``."""

    def __init__(self, pk, title, price):
        self.pk, self.title, self.price = pk, title, price

    def to_dengage(self):
        return {
            "product_id": f"P{self.pk}",
            "title": self.title,
            "price": self.price,
            "category": "Men > Sports",
            "in_stock": True,
        }


PRODUCTS = {1: Product(1, "Runner", Decimal("349.99")), 2: Product(2, "Cap", Decimal("24.50"))}
BASKET = {
    "total_price": Decimal("374.49"),
    "currency": "EUR",
    "cart_url": "http://testserver/basket/",
    "products": [
        {"product_id": "P1", "price": Decimal("349.99"), "quantity": 1, "title": "dropped"},
        PRODUCTS[2],
    ],
}


def home(request):
    return render(request, "home.html")


def product(request, pk):
    item = PRODUCTS[pk]
    # Reported from the view AND the template: still one PRODUCT_VIEW.
    request.dengage.product_view(item)
    return TemplateResponse(request, "product.html", {"product": item})


def basket_add(request, pk):
    item = PRODUCTS[pk]
    request.dengage.basket_add(f"P{pk}", price=item.price, quantity=int(request.POST["qty"]))
    return HttpResponseRedirect("/basket/")


def basket_remove(request, pk):
    request.dengage.basket_remove(f"P{pk}")
    return HttpResponseRedirect("/basket/")


def checkout(request, step):
    return render(request, "checkout.html", {"step": step, "basket": BASKET})


class PaymentFailed(Exception):
    pass


def purchase(request):
    try:
        with transaction.atomic():
            request.dengage.checkout(
                "purchase",
                total_price=BASKET["total_price"],
                products=BASKET["products"],
                currency="EUR",
                order_no="1001",
            )
            if request.POST.get("fail"):
                raise PaymentFailed
    except PaymentFailed:
        return HttpResponseRedirect("/checkout/payment/")
    return HttpResponseRedirect("/thanks/")


def custom(request):
    return render(request, "custom.html", {"product": PRODUCTS[1]})


def api(request):
    return JsonResponse({"ok": True})


def missing(request):
    return render(request, "home.html", status=404)


def bad_product(request):
    request.dengage.product_view({"product_id": "P9", "price": "abc"})
    return HttpResponse("<p>still here</p>")


def none_product(request):
    return render(request, "product.html", {"product": None})


def plain_text(request):
    return HttpResponse("ok", content_type="text/plain")


async def async_home(request):
    await request.dengage.atrack("CUSTOM_EVENT", type="async_seen")
    return HttpResponse("<p>async</p>")


def sign_in(request):
    user = authenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    login(request, user)
    return HttpResponseRedirect("/")


def sign_out(request):
    logout(request)
    return HttpResponseRedirect("/")


def sign_up(request):
    user = get_user_model().objects.create_user(
        username=request.POST["username"],
        email=request.POST.get("email", ""),
        password=request.POST["password"],
        first_name=request.POST.get("first_name", ""),
        last_name=request.POST.get("last_name", ""),
    )
    login(request, user)
    return HttpResponseRedirect("/")


def profile(request):
    request.user.email = request.POST["email"]
    request.user.save()
    return HttpResponseRedirect("/profile/")


# --- Views for the identity rules (tests/identity/) --------------------------


def staff_edit_customer(request, pk):
    """A back-office page outside /admin/: staff edit a customer."""
    customer = get_user_model().objects.get(pk=pk)
    customer.email = request.POST["email"]
    customer.first_name = request.POST.get("first_name", customer.first_name)
    customer.save()
    return HttpResponse("<p>saved</p>")


def staff_create_customer(request):
    get_user_model().objects.create_user(
        username=request.POST["username"], email=request.POST["email"], password="pw"
    )
    return HttpResponse("<p>created</p>")


@csrf_exempt
def payment_webhook(request):
    """What a payment provider calls: no cookies, not a browser."""
    data = json.loads(request.body)
    customer = get_user_model().objects.get(pk=data["customer"])
    dengage_django.track(
        "CHECKOUT",
        user=customer,
        step="purchase",
        total_price=Decimal("349.99"),
        product_list=[{"product_id": "P1", "price": Decimal("349.99"), "quantity": 1}],
        order_no=data["order"],
        currency="EUR",
    )
    return JsonResponse({"ok": True})


def broken_category(request):
    """A category from a feed holding half an emoji, and a basket add."""
    request.dengage.basket_add("P1", price=Decimal("10"))
    request.dengage.page(category=request.GET.get("c", "Shoes \ud83d"))
    return HttpResponse("<p>shoes</p>")


def empty_basket(request):
    basket = {"total_price": 0, "currency": "EUR", "products": []}
    return render(request, "checkout.html", {"step": "basket", "basket": basket})


async def async_basket_sync_helper(request):
    request.dengage.basket_add("P1", price=Decimal("10"))
    return HttpResponse("<p>added</p>")


async def async_basket(request):
    await request.dengage.abasket_add("P1", price=Decimal("10"))
    await request.dengage.aproduct_view(PRODUCTS[1])
    await request.dengage.acheckout_basket("basket", BASKET)
    await request.dengage.acustom_event("seen", {"where": "async"})
    return HttpResponse("<p>added</p>")


def record_then_fail(request):
    request.dengage.product_view(PRODUCTS[1])
    raise RuntimeError("the view failed after recording")


def staff_create_order(request):
    from .accounts.models import Order

    Order.objects.create(customer_id=request.POST["customer"], total=Decimal("10"))
    return HttpResponse("<p>order created</p>")


def recommended(request, pk):
    return render(request, "recommended.html", {"product": PRODUCTS[pk]})


async def async_recommended(request):
    await request.dengage.aproduct_view(PRODUCTS[1])
    decisions = await request.dengage.adecide()
    return HttpResponse("widgets: " + ",".join(w.instance_id for w in decisions.widgets))
