"""What a visitor does in the Oscar test shop, over HTTP (Django's test
client): the forms Oscar's own pages post."""

from decimal import Decimal

from django.test import Client
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_model
from oscar.test.factories import CountryFactory, create_product

from dengage_django.models import OutboxEvent
from example_project.oscar.demo import ADDRESS  # the demo's guest's

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


def browser():
    return Client(headers={"user-agent": DESKTOP, "accept": "text/html"})


def recorded(name, **where):
    rows = OutboxEvent.objects.filter(name=name).order_by("id")
    payloads = list(rows.values_list("payload", flat=True))
    return [p for p in payloads if all(p.get(k) == v for k, v in where.items())]


def product(title, price, *, stock=10, category=None, **kwargs):
    made = create_product(title=title, price=Decimal(price), num_in_stock=stock, **kwargs)
    if category:
        ProductCategory = get_model("catalogue", "ProductCategory")
        ProductCategory.objects.create(product=made, category=create_from_breadcrumbs(category))
    return made


def add(client, item, quantity=1):
    """Oscar's add-to-basket form, posted from the product's page (a POST
    from a browser with no cookies yet is no visitor's: not tracked)."""
    client.get(item.get_absolute_url())
    response = client.post(f"/basket/add/{item.pk}/", {"quantity": str(quantity)})
    assert response.status_code == 302, response.content[:500]


def lines_of(client):
    """The visitor's basket lines, as their basket page lists them."""
    response = client.get("/basket/")
    return list(response.context["formset"].queryset) if response.context else []


def update_basket(client, quantities, extra=None):
    """Post the basket page's form: ``quantities`` by line (0 deletes)."""
    count = len(quantities)
    data = {
        "form-TOTAL_FORMS": count,
        "form-INITIAL_FORMS": count,
        "form-MIN_NUM_FORMS": 0,
        "form-MAX_NUM_FORMS": 1000,
    }
    for index, (line, quantity) in enumerate(quantities.items()):
        data[f"form-{index}-id"] = line.pk
        data[f"form-{index}-quantity"] = quantity
        for name, value in (extra or {}).get(line, {}).items():
            data[f"form-{index}-{name}"] = value
    response = client.post("/basket/", data)
    assert response.status_code == 302, response.content[:2000]


def checkout(client, *, guest_email=None):
    """Through Oscar's checkout to the thank-you page: as a guest when
    ``guest_email`` is given (the client is then anonymous)."""
    CountryFactory(iso_3166_1_a2="GB", name="United Kingdom", is_shipping_country=True)
    if guest_email is not None:
        assert client.get("/checkout/").status_code == 200
        response = client.post("/checkout/", {"username": guest_email, "options": "anonymous"})
        assert response.status_code == 302, response.content[:2000]
    else:
        assert client.get("/checkout/").status_code == 302
    response = client.post("/checkout/shipping-address/", ADDRESS)
    assert response.status_code == 302, response.content[:3000]
    response = client.get("/checkout/shipping-method/", follow=True)
    assert response.redirect_chain[-1][0] == "/checkout/payment-details/", response.redirect_chain
    assert client.get("/checkout/preview/").status_code == 200
    response = client.post("/checkout/preview/", {"action": "place_order"})
    assert response.status_code == 302 and response["Location"] == "/checkout/thank-you/", (
        response.status_code,
        response.get("Location"),
    )
    assert client.get("/checkout/thank-you/").status_code == 200


def register(client, email, password="s3cret-Passw0rd"):
    response = client.post(
        "/accounts/login/",
        {
            "registration-email": email,
            "registration-password1": password,
            "registration-password2": password,
            "registration_submit": "1",
        },
    )
    assert response.status_code == 302, response.content[:2000]


def sign_in(client, email, password="s3cret-Passw0rd"):
    response = client.post(
        "/accounts/login/",
        {"login-username": email, "login-password": password, "login_submit": "1"},
    )
    assert response.status_code == 302, response.content[:2000]


def sign_out(client):
    assert client.get("/accounts/logout/").status_code == 302


def update_saved(client, lines, *, move=(), delete=()):
    """Post the saved-for-later form of the basket page: ``move`` lines back
    to the basket, ``delete`` others."""
    data = {
        "saved-TOTAL_FORMS": len(lines),
        "saved-INITIAL_FORMS": len(lines),
        "saved-MIN_NUM_FORMS": 0,
        "saved-MAX_NUM_FORMS": 1000,
    }
    for index, line in enumerate(lines):
        data[f"saved-{index}-id"] = line.pk
        if line in move:
            data[f"saved-{index}-move_to_basket"] = "on"
        if line in delete:
            data[f"saved-{index}-DELETE"] = "on"
    response = client.post("/basket/saved/", data)
    assert response.status_code == 302, response.content[:2000]
