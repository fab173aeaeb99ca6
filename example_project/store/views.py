import json

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import dengage_django

from . import payments, tracking
from .basket import CURRENCY, Basket
from .forms import CustomerForm, PaymentForm, ProfileForm, SignupForm
from .models import Category, Order, OrderLine, Product

CUSTOMER_KEY = "checkout_customer"
ORDERS_KEY = "placed_orders"
DECLINED_CARD = "4000000000000002"


class PaymentDeclined(Exception):
    """The (pretend) payment provider refused the card."""


def _positive_int(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _back(request, fallback):
    """Redirect to the page the form was on (same site only), else ``fallback``."""
    referer = request.META.get("HTTP_REFERER")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(referer)
    return redirect(fallback)


# -- catalogue -----------------------------------------------------------------


@require_GET
def home(request):
    products = Product.objects.select_related("category")
    return render(request, "store/home.html", {"products": products})


@require_GET
def category(request, slug):
    category = get_object_or_404(Category, slug=slug)
    products = category.products.select_related("category")
    return render(request, "store/category.html", {"category": category, "products": products})


@require_GET
def product(request, slug):
    product = get_object_or_404(Product.objects.select_related("category"), slug=slug)
    related = (
        Product.objects.filter(category__path__startswith=product.category.path.split(" > ")[0])
        .exclude(pk=product.pk)
        .select_related("category")[:4]
    )
    context = {
        "product": product,
        "related": related,
        "recommendations": settings.SHOP_RECOMMENDATIONS,
    }
    return render(request, "store/product.html", context)


@require_GET
def search(request):
    query = request.GET.get("q", "").strip()[:100]
    products = Product.objects.none()
    if query:
        products = Product.objects.filter(name__icontains=query).select_related("category")
        request.dengage.search(query)
    return render(request, "store/search.html", {"query": query, "products": products})


# -- basket --------------------------------------------------------------------


@require_POST
def basket_add(request):
    product = get_object_or_404(Product, sku=request.POST.get("product_id", ""))
    quantity = _positive_int(request.POST.get("quantity", "1"))
    if quantity is None:
        messages.error(request, "Please enter a quantity of 1 or more.")
        return _back(request, product.get_absolute_url())
    if not product.in_stock:
        messages.error(request, f"Sorry, {product.name} is out of stock.")
        return _back(request, product.get_absolute_url())
    size = request.POST.get("size") or None
    if size is not None and size not in product.size_list:
        messages.error(request, "Please choose one of the sizes offered.")
        return _back(request, product.get_absolute_url())
    Basket(request.session).add(product, quantity)
    request.dengage.basket_add(
        product.sku, price=product.price, quantity=quantity, currency=CURRENCY, size=size
    )
    messages.success(request, f"{product.name} was added to your basket.")
    return redirect("store:basket")


@require_POST
def basket_remove(request):
    sku = request.POST.get("product_id", "")
    removed = Basket(request.session).remove(sku)
    if removed:
        request.dengage.basket_remove(sku, quantity=removed)
        messages.info(request, "The item was removed from your basket.")
    return redirect("store:basket")


@require_GET
def basket(request):
    return render(request, "store/basket.html", {"basket": Basket(request.session)})


# -- checkout ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def checkout_customer(request):
    basket = Basket(request.session)
    if not basket:
        messages.info(request, "Your basket is empty.")
        return redirect("store:basket")
    if request.method == "POST":
        form = CustomerForm(request.POST)
        if form.is_valid():
            request.session[CUSTOMER_KEY] = form.cleaned_data
            return redirect("store:checkout_payment")
    else:
        initial = dict(request.session.get(CUSTOMER_KEY) or {})
        user = request.user
        if user.is_authenticated and not initial:
            initial = {"full_name": user.get_full_name(), "email": user.email}
            last_order = user.orders.order_by("-created_at").first()
            if last_order is not None:
                initial["address"] = last_order.address
        form = CustomerForm(initial=initial)
    return render(request, "store/checkout_customer.html", {"basket": basket, "form": form})


@require_http_methods(["GET", "POST"])
def checkout_payment(request):
    basket = Basket(request.session)
    if not basket:
        messages.info(request, "Your basket is empty.")
        return redirect("store:basket")
    customer = request.session.get(CUSTOMER_KEY)
    if not customer:
        return redirect("store:checkout_customer")
    form = PaymentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order = _place_order(request, basket, customer, form.cleaned_data)
        except PaymentDeclined:
            messages.error(request, "Your card was declined")
            return redirect("store:checkout_payment")
        basket.clear()
        request.session.pop(CUSTOMER_KEY, None)
        request.session[ORDERS_KEY] = [*request.session.get(ORDERS_KEY, []), order.pk]
        return redirect("store:checkout_done", order_id=order.pk)
    return render(
        request,
        "store/checkout_payment.html",
        {"basket": basket, "form": form, "customer": customer},
    )


def _place_order(request, basket, customer, payment):
    """Create the order and take the payment, all or nothing.

    Marking the order "paid" makes the registry record the purchase in this
    transaction (see ``tracking.order_events``): a declined card rolls back
    the order and the event together.

    A signed-in customer's card is charged by the payment provider, which
    confirms later by calling ``payment_webhook``: the order waits "awaiting
    payment" and the webhook reports the purchase, about ``order.customer``
    (it arrives without the visitor's cookies, so the customer is how it
    knows whose purchase it is). A guest has no account to report it about
    (this shop does not keep visitors' Dengage ids on orders), so a guest's
    card is charged here, like PayPal and cash on delivery, and the purchase
    carries the guest's browser ids. A declined card is refused here either
    way, recording nothing.
    """
    user = request.user if request.user.is_authenticated else None
    with transaction.atomic():
        order = Order.objects.create(
            customer=user,
            email=customer["email"],
            full_name=customer["full_name"],
            address=customer["address"],
            payment_type=payment["payment_type"],
            status=Order.NEW,
            total=basket.total,
        )
        for line in basket.lines:
            OrderLine.objects.create(
                order=order, product=line.product, quantity=line.quantity, price=line.price
            )
            Product.objects.filter(pk=line.product.pk).update(
                stock=Greatest(F("stock") - line.quantity, 0)
            )
        if payment["card_number"] == DECLINED_CARD:
            raise PaymentDeclined
        if payment["payment_type"] == Order.CARD and user is not None:
            order.status = Order.AWAITING_PAYMENT
        else:
            order.status = Order.PAID
        order.save()
    return order


@require_GET
def checkout_done(request, order_id):
    order = get_object_or_404(Order.objects.prefetch_related("lines__product"), pk=order_id)
    mine = order_id in request.session.get(ORDERS_KEY, []) or (
        request.user.is_authenticated and order.customer_id == request.user.pk
    )
    if not mine:
        raise Http404("No such order")
    return render(request, "store/checkout_done.html", {"order": order})


# -- accounts and wishlist -----------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("store:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, f"Welcome, {user.get_username()}!")
        return redirect("store:home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your details were saved.")
        return redirect("store:profile")
    orders = request.user.orders.all()[:10]
    return render(request, "store/profile.html", {"form": form, "orders": orders})


@require_POST
def wishlist_add(request):
    product = get_object_or_404(Product, sku=request.POST.get("product_id", ""))
    request.dengage.custom_event("wishlist_add", {"product_id": product.sku})
    messages.success(request, f"{product.name} was added to your wishlist.")
    return redirect(product)


# -- payment webhook -----------------------------------------------------------


@csrf_exempt
@require_POST
def payment_webhook(request):
    """The payment provider confirms a card payment (see ``payments.py``).

    403 when the signature is wrong, 400 when the body is not the JSON
    expected, 404 for an unknown order, 409 for an order not awaiting
    payment; 200 otherwise, and again (recording nothing) for an order
    already paid: providers deliver a call more than once. Other event
    types are acknowledged and ignored.
    """
    body = request.body
    if not payments.is_signed(body, request.headers.get(payments.SIGNATURE_HEADER)):
        return JsonResponse({"error": "bad signature"}, status=403)
    try:
        data = json.loads(body)
        event_type, order_id = data["type"], data["order"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "expected JSON with type and order"}, status=400)
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        return JsonResponse({"error": "order must be an order number"}, status=400)
    if event_type != payments.PAYMENT_SUCCEEDED:
        return JsonResponse({"ignored": str(event_type)[:100]})
    order = Order.objects.select_related("customer").filter(pk=order_id).first()
    if order is None:
        return JsonResponse({"error": f"no order {order_id}"}, status=404)
    with transaction.atomic():
        # Only one delivery of the call turns the order paid (a conditional
        # UPDATE), and an UPDATE runs no post_save: ``tracking.order_events``
        # does not report this purchase too. The event is stored in this
        # transaction, so it is kept only if the order is marked paid.
        paid_now = Order.objects.filter(pk=order.pk, status=Order.AWAITING_PAYMENT).update(
            status=Order.PAID
        )
        if paid_now:
            dengage_django.track("CHECKOUT", user=order.customer, **tracking.purchase(order))
    if not paid_now:
        order.refresh_from_db(fields=["status"])
        if order.status != Order.PAID:
            return JsonResponse({"error": f"order {order.pk} is not awaiting payment"}, status=409)
    return JsonResponse({"order": order.pk, "status": Order.PAID, "already_paid": not paid_now})


# -- staff pages ---------------------------------------------------------------
# Ordinary shop pages for the shop's staff (``is_staff``), outside /admin/:
# tracked like any page, the staff member being the visitor. Saving a
# customer there sends that customer's USER_OPERATIONS update (the app's
# receivers), filed under the customer's ids, not the staff member's.

staff_only = staff_member_required(login_url="store:login")


@staff_only
@require_GET
def staff_customers(request):
    customers = get_user_model().objects.filter(is_staff=False).order_by("username")
    return render(request, "store/staff_customers.html", {"customers": customers})


@staff_only
@require_http_methods(["GET", "POST"])
def staff_customer_edit(request, user_id):
    customer = get_object_or_404(get_user_model(), pk=user_id, is_staff=False)
    form = ProfileForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"{customer.get_username()}'s details were saved.")
        return redirect("store:staff_customers")
    return render(request, "store/staff_customer_edit.html", {"form": form, "customer": customer})
