"""``make demo-oscar``: a visitor of a django-oscar shop becomes Dengage
events, with nothing but ``"dengage_django.contrib.oscar"`` in
``INSTALLED_APPS`` (``example_project/oscar/settings.py``).

1. a fresh SQLite database, migrated; a few products in Oscar's catalogue;
2. the fake Dengage data center (``dengage_django.testing``) on 127.0.0.1;
3. the Oscar shop, served over real HTTP on 127.0.0.1;
4. one visitor browses the catalogue, a category and products, searches,
   adds two products, lowers a quantity on the basket page, checks out as
   a guest to an order (reloading the thank-you page), registers, signs
   out and signs in again;
5. ``send_dengage_outbox`` drains the outbox;
6. what the data center received, as a table;
7. checks: every event the journey makes arrived, under one userId, the
   purchase once with the order's number and total.

Exits non-zero if a check fails. Nothing leaves the machine.
"""

import re
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from example_project.demo import DESKTOP, PASSWORD, Visitor, key_fields, serve, start  # noqa: E402

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "line1": "12 St James's Square",
    "line4": "London",
    "postcode": "SW1Y 4JH",
    "country": "GB",
}
#: (title, price, stock, category path) of the demo's catalogue.
CATALOGUE = [
    ("Trail Runner", "89.90", 12, "Men > Sports > Shoes"),
    ("Wool Sock", "9.50", 40, "Men > Socks"),
    ("Rain Jacket", "129.00", 3, "Women > Outdoor > Jackets"),
]
#: What the journey must have sent: (event, step), each at least once.
EXPECTED = [
    ("PAGE_VIEW", None),
    ("PRODUCT_VIEW", None),
    ("SEARCH", None),
    ("BASKET_OPERATIONS", "add"),
    ("BASKET_OPERATIONS", "remove"),
    ("CHECKOUT", "basket"),
    ("CHECKOUT", "customer"),
    ("CHECKOUT", "payment"),
    ("CHECKOUT", "purchase"),
    ("USER_OPERATIONS", "signup"),
    ("USER_OPERATIONS", "signin"),
    ("USER_OPERATIONS", "signout"),
]


def seed():
    """Oscar's catalogue: a product class, a partner, products with stock
    records and categories; the country Oscar ships to."""
    from oscar.apps.catalogue.categories import create_from_breadcrumbs
    from oscar.core.loading import get_model

    product_class = get_model("catalogue", "ProductClass").objects.create(name="Clothing")
    partner = get_model("partner", "Partner").objects.create(name="Demo Warehouse")
    products = []
    for number, (title, price, stock, path) in enumerate(CATALOGUE, 1):
        product = get_model("catalogue", "Product").objects.create(
            title=title, product_class=product_class, upc=f"DEMO-{number}"
        )
        get_model("partner", "StockRecord").objects.create(
            product=product,
            partner=partner,
            partner_sku=f"SKU-{number}",
            price=Decimal(price),
            price_currency="EUR",
            num_in_stock=stock,
        )
        get_model("catalogue", "ProductCategory").objects.create(
            product=product, category=create_from_breadcrumbs(path)
        )
        products.append(product)
    get_model("address", "Country").objects.create(
        iso_3166_1_a2="GB",
        name="United Kingdom",
        printable_name="United Kingdom",
        is_shipping_country=True,
    )
    return products


def add(visitor, product, quantity):
    """Oscar's add-to-basket form, posted from the product's page (Oscar
    returns the visitor to the page they came from)."""
    page = visitor.base_url + product.get_absolute_url()
    visitor.get(product.get_absolute_url())
    response = visitor.session.post(
        f"{visitor.base_url}/basket/add/{product.pk}/",
        data={
            "quantity": str(quantity),
            "csrfmiddlewaretoken": visitor.session.cookies["csrftoken"],
        },
        headers={"Referer": page},
        timeout=10,
    )
    visitor._seen(response)


def lower_first_line(visitor):
    """Post the basket page's form with the first line one lower."""
    page = visitor.get("/basket/").text
    ids = re.findall(r'name="form-(\d+)-id" value="(\d+)"', page)
    quantities = dict(re.findall(r'name="form-(\d+)-quantity" value="(\d+)"', page))
    data = {
        "form-TOTAL_FORMS": str(len(ids)),
        "form-INITIAL_FORMS": str(len(ids)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, line in ids:
        data[f"form-{index}-id"] = line
        data[f"form-{index}-quantity"] = quantities[index]
    first = ids[0][0]
    data[f"form-{first}-quantity"] = str(int(quantities[first]) - 1)
    visitor.post("/basket/", **data)


def journey(base_url, products):
    from oscar.core.loading import get_model

    shoe, sock, _ = products
    ada = Visitor("ada", DESKTOP, base_url)
    ada.get("/catalogue/")
    ada.get(get_model("catalogue", "Category").objects.get(name="Shoes").get_absolute_url())
    ada.get(shoe.get_absolute_url())
    ada.get("/search/?q=sock")
    add(ada, shoe, 2)
    add(ada, sock, 3)
    lower_first_line(ada)
    ada.get("/checkout/")
    ada.post("/checkout/", username="ada@example.com", options="anonymous")
    ada.post("/checkout/shipping-address/", **ADDRESS)  # Oscar goes on to the payment page
    ada.get("/checkout/preview/")
    ada.post("/checkout/preview/", action="place_order")
    ada.get("/checkout/thank-you/")  # reloaded
    ada.post(
        "/accounts/login/",
        **{
            "registration-email": "ada@example.com",
            "registration-password1": PASSWORD,
            "registration-password2": PASSWORD,
            "registration_submit": "1",
        },
    )
    ada.signed_in("ada@example.com")
    ada.get("/accounts/logout/")
    ada.post(
        "/accounts/login/",
        **{"login-username": "ada@example.com", "login-password": PASSWORD, "login_submit": "1"},
    )
    return ada


def print_table(events):
    print(f"\n== ada's browser: {len(events)} events")
    print(f"  {'event':<17} {'userId':<14} key fields")
    for event in events:
        user_id = event["userId"]
        short = user_id if len(user_id) <= 14 else user_id[:11] + "..."
        print(f"  {event['name']:<17} {short:<14} {key_fields(event)}")


def checks(events, visitor):
    from oscar.core.loading import get_model

    kinds = Counter((event["name"], event.get("step")) for event in events)
    orders = list(get_model("order", "Order").objects.all())
    purchases = [e for e in events if e["name"] == "CHECKOUT" and e.get("step") == "purchase"]
    results = [
        (kinds[kind] > 0, f"{kind[0]}{' ' + kind[1] if kind[1] else ''} received")
        for kind in EXPECTED
    ]
    signups = [e for e in events if e["name"] == "USER_OPERATIONS" and e["step"] == "signup"]
    customer = signups[0]["userId"] if signups else None
    others = [e for e in events if e["userId"] != customer]
    results += [
        (
            customer == visitor.user_id and len(events) - len(others) > len(EXPECTED),
            "the customer's events, as a guest and signed in again, under one userId",
        ),
        (
            bool(others) and {e["name"] for e in others} == {"PAGE_VIEW"},
            "the page after signing out under a fresh userId (a shared browser's next person)",
        ),
        (len(orders) == 1 and len(purchases) == 1, "one order, one purchase (thank-you reloaded)"),
        (
            len(orders) == 1
            and len(purchases) == 1
            and purchases[0]["orderNo"] == orders[0].number
            and Decimal(str(purchases[0]["totalPrice"])) == orders[0].total_incl_tax,
            "the purchase has the order's number and total incl. tax",
        ),
        (
            any(e.get("subCategory") == "Men > Sports > Shoes" for e in events),
            "the category page's path is its PAGE_VIEW's subCategory",
        ),
        (
            any(e.get("username") == "ada@example.com" for e in events),
            "the customer is named by their e-mail (Oscar's usernames are random)",
        ),
    ]
    return results


def main():
    started = time.monotonic()
    fake, workdir = start("example_project.oscar.settings")
    from django.conf import settings

    settings.MEDIA_ROOT = workdir
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # Oscar's e-mails
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    print(f"Fake Dengage data center: {fake.url}")
    call_command("migrate", verbosity=0)
    products = seed()
    server, base_url = serve(get_wsgi_application())
    print(f"Oscar shop:               {base_url}")
    visitor = journey(base_url, products)
    server.shutdown()

    print("\n$ manage.py send_dengage_outbox")
    call_command("send_dengage_outbox", "--no-progress")
    events = fake.events
    fake.stop()
    print_table(events)
    results = checks(events, visitor)
    print("Checks:")
    for passed, description in results:
        print(f"  {'ok  ' if passed else 'FAIL'} {description}")
    print(f"Demo finished in {time.monotonic() - started:.1f} s.")
    failed = [description for passed, description in results if not passed]
    if failed:
        print("FAILED checks: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
