"""The example shop's payment webhook and staff pages (``example_project/``).

The shop has its own settings, so it runs in a subprocess: this file, run
as a script, plays a short scenario on a fresh SQLite database through
Django's test client (local ids, nothing sent) and prints what it saw as
JSON; the tests below assert on that.

* A signed-in customer (ayse) pays by card: the order waits for the
  payment provider, whose webhook call (``Stripe/1.0`` User-Agent, no
  cookies) marks it paid and records the purchase under ayse's userId.
* A guest pays by card: paid, and reported, at checkout.
* A staff member edits ayse on ``/staff/customers/<id>/edit/``: the
  USER_OPERATIONS update is ayse's, not the staff member's.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DENGAGE_COOKIES = ("dengage_uid", "dengage_sid")


@pytest.fixture(scope="module")
def shop():
    """What the scenario saw (see :func:`play`)."""
    result = subprocess.run(
        [sys.executable, __file__],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


# -- the webhook -----------------------------------------------------------------


def test_webhook_refuses_a_bad_or_missing_signature(shop):
    assert shop["webhook"]["bad signature"]["status"] == 403
    assert shop["webhook"]["no signature"]["status"] == 403


def test_webhook_refuses_a_body_that_is_not_the_json_expected(shop):
    assert shop["webhook"]["bad json"]["status"] == 400
    assert shop["webhook"]["no order"]["status"] == 400


def test_webhook_answers_404_for_an_unknown_order(shop):
    assert shop["webhook"]["unknown order"]["status"] == 404


def test_webhook_only_takes_post(shop):
    assert shop["webhook"]["get"]["status"] == 405


def test_a_customers_card_order_waits_for_the_webhook(shop):
    assert shop["card order"]["status before"] == "awaiting_payment"
    assert shop["card order"]["purchases before"] == 0
    assert shop["webhook"]["paid"]["status"] == 200
    assert shop["card order"]["status after"] == "paid"


def test_webhook_is_idempotent(shop):
    again = shop["webhook"]["again"]
    assert again["status"] == 200
    assert again["json"]["already_paid"] is True
    assert shop["card order"]["purchases after"] == 1  # the second call recorded nothing


def test_webhook_sets_no_cookies(shop):
    for call, seen in shop["webhook"].items():
        assert not (set(seen["cookies"]) & set(DENGAGE_COOKIES)), call
    assert shop["webhook"]["paid"]["cookies"] == []


def test_webhook_purchase_is_the_buyers(shop):
    """Under the userId ayse's browser got at login, in a session of its own."""
    [purchase] = shop["card order"]["purchase events"]
    assert purchase["status"] != "invalid", purchase
    assert purchase["userId"] == shop["ayse"]["uid after login"]
    assert purchase["sessionId"] not in shop["ayse"]["browser session ids"]
    assert purchase["productList"] and purchase["orderNo"] == str(shop["card order"]["id"])


def test_a_guests_card_order_is_paid_and_reported_at_checkout(shop):
    guest = shop["guest order"]
    assert guest["status"] == "paid"
    [purchase] = guest["purchase events"]
    assert purchase["userId"] == guest["uid"]


# -- the staff pages -------------------------------------------------------------


def test_staff_pages_are_for_staff_only(shop):
    pages = shop["staff pages"]
    assert pages["anonymous"]["status"] == 302
    assert pages["anonymous"]["location"].startswith("/accounts/login/")
    assert pages["customer"]["status"] == 302
    assert pages["staff list"]["status"] == 200
    assert pages["staff edit"]["status"] == 200
    assert pages["staff save"]["status"] == 302
    assert shop["ayse"]["email after"] == "ayse.yilmaz@example.com"


def test_staff_edit_update_is_the_customers(shop):
    """Under the customer's userId (her browser's at login), never the staff member's."""
    [update] = shop["staff edit"]["update events"]
    assert update["status"] != "invalid", update
    assert update["username"] == "ayse"
    assert update["userId"] == shop["ayse"]["uid after login"]
    assert update["userId"] not in shop["staff"]["uids"]
    assert update["sessionId"] not in shop["staff"]["browser session ids"]


# -- the scenario (runs in the subprocess) -------------------------------------


def play():
    """Play the scenario; returns what it saw (JSON-able)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from dengage_django.models import OutboxEvent
    from example_project.store.models import Order, Product
    from example_project.store.payments import provider_call, sign

    def browser(agent):
        return Client(headers={"user-agent": agent}, raise_request_exception=False)

    def events(name, **match):
        found = []
        for row in OutboxEvent.objects.filter(name=name).order_by("id"):
            payload = dict(row.payload, status=row.status)
            if all(payload.get(key) == value for key, value in match.items()):
                found.append(payload)
        return found

    def session_ids(user_ids):
        return sorted(
            {
                row.payload.get("sessionId")
                for row in OutboxEvent.objects.all()
                if row.payload.get("userId") in user_ids and row.payload.get("device")
            }
        )

    def answer(response):
        try:
            data = response.json()
        except ValueError:
            data = None
        return {
            "status": response.status_code,
            "json": data,
            "cookies": sorted(response.cookies),
            "location": response.get("Location", ""),
        }

    def webhook(body, headers):
        """The provider's call: a fresh client, so no cookies."""
        headers = {key.lower(): value for key, value in headers.items()}
        content_type = headers.pop("content-type")
        provider = Client(headers=headers, raise_request_exception=False)
        return answer(provider.post("/webhooks/payment/", body, content_type=content_type))

    def check_out(client, payment_type, card_number, product):
        client.post("/basket/add/", {"product_id": product.sku, "quantity": "1"})
        client.post(
            "/checkout/customer/",
            {"full_name": "Ayşe Yılmaz", "email": "ayse@example.com", "address": "Ankara"},
        )
        response = client.post(
            "/checkout/payment/", {"payment_type": payment_type, "card_number": card_number}
        )
        assert response.status_code == 302, response.status_code
        return int(response["Location"].rstrip("/").rsplit("/", 1)[1])

    call_command("migrate", verbosity=0)
    call_command("seed_shop", verbosity=0)
    users = get_user_model().objects
    ayse = users.create_user("ayse", "ayse@example.com", "a-pass-123", first_name="Ayşe")
    users.create_user("mehmet", "mehmet@example.com", "a-pass-123", is_staff=True)
    product = Product.objects.filter(stock__gt=0).first()
    seen = {"webhook": {}, "staff pages": {}}

    # ayse logs in on her desktop and pays by card.
    desktop = browser(DESKTOP)
    desktop.get("/")
    desktop.post("/accounts/login/", {"username": "ayse", "password": "a-pass-123"})
    ayse_uid = desktop.cookies["dengage_uid"].value
    order_id = check_out(desktop, "credit_card", "4242424242424242", product)
    seen["card order"] = {
        "id": order_id,
        "status before": Order.objects.get(pk=order_id).status,
        "purchases before": len(events("CHECKOUT", step="purchase", orderNo=str(order_id))),
    }

    # A guest pays by card on a phone.
    phone = browser(PHONE)
    phone.get("/")
    guest_order = check_out(phone, "credit_card", "4242424242424242", product)
    seen["guest order"] = {
        "status": Order.objects.get(pk=guest_order).status,
        "uid": phone.cookies["dengage_uid"].value,
        "purchase events": events("CHECKOUT", step="purchase", orderNo=str(guest_order)),
    }

    # The payment provider calls, and calls again.
    body, headers = provider_call(order_id)
    calls = seen["webhook"]
    calls["bad signature"] = webhook(body, {**headers, "X-Payment-Signature": sign(body, "no")})
    calls["no signature"] = webhook(
        body, {k: v for k, v in headers.items() if k != "X-Payment-Signature"}
    )
    bad = b'{"type": "payment.succeeded", "order": '
    calls["bad json"] = webhook(bad, {**headers, "X-Payment-Signature": sign(bad)})
    calls["no order"] = webhook(*provider_call(None))
    calls["unknown order"] = webhook(*provider_call(order_id + 1000))
    calls["get"] = answer(
        Client(headers={"user-agent": headers["User-Agent"]}).get("/webhooks/payment/")
    )
    calls["get"]["cookies"] = []
    calls["paid"] = webhook(body, headers)
    calls["again"] = webhook(body, headers)
    purchases = events("CHECKOUT", step="purchase", orderNo=str(order_id))
    seen["card order"].update(
        {
            "status after": Order.objects.get(pk=order_id).status,
            "purchases after": len(purchases),
            "purchase events": purchases,
        }
    )

    # Staff pages: refused to a visitor and to a customer, then mehmet edits ayse.
    pages = seen["staff pages"]
    edit = f"/staff/customers/{ayse.pk}/edit/"
    pages["anonymous"] = answer(browser(MAC).get("/staff/customers/"))
    pages["customer"] = answer(desktop.get("/staff/customers/"))
    staff = browser(MAC)
    staff.get("/")
    staff_uids = {staff.cookies["dengage_uid"].value}
    staff.post("/accounts/login/", {"username": "mehmet", "password": "a-pass-123"})
    staff_uids.add(staff.cookies["dengage_uid"].value)
    pages["staff list"] = answer(staff.get("/staff/customers/"))
    pages["staff edit"] = answer(staff.get(edit))
    new_details = {"first_name": "Ayşe", "last_name": "Yılmaz", "email": "ayse.yilmaz@example.com"}
    pages["staff save"] = answer(staff.post(edit, new_details))
    staff_uids.add(staff.cookies["dengage_uid"].value)
    seen["staff edit"] = {
        "update events": events("USER_OPERATIONS", step="update", email=new_details["email"])
    }
    seen["staff"] = {
        "uids": sorted(staff_uids),
        "browser session ids": session_ids(staff_uids),
    }
    seen["ayse"] = {
        "uid after login": ayse_uid,
        "browser session ids": session_ids({ayse_uid}),
        "email after": users.get(pk=ayse.pk).email,
    }
    return seen


def main():
    workdir = tempfile.mkdtemp(prefix="example-shop-test-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="example_project.shop.settings",
        DATABASE_URL=f"sqlite:///{workdir}/shop.sqlite3",
        ALLOWED_HOSTS="testserver",
        DEBUG="true",
        DENGAGE_ID_SOURCE="local",
    )
    import django

    django.setup()
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # quick
    print(json.dumps(play(), default=str))


if __name__ == "__main__":
    main()
