"""``make demo``: the example shop's visitors become Dengage events.

1. a fresh SQLite database, migrated and seeded with products;
2. the fake Dengage data center (``dengage_django.testing``) on 127.0.0.1;
3. the shop, served over real HTTP on 127.0.0.1;
4. scripted visitors (a phone, a tablet, a desktop, a staff member's Mac
   and a crawler) browse, fill baskets, check out (one card declined), sign
   up, log in, change their profile and log out; the payment provider
   confirms the desktop customer's card payment by calling the shop's
   webhook (twice, as providers do), and the staff member changes the
   tablet customer's e-mail on the shop's staff page;
5. ``send_dengage_outbox`` drains the outbox;
6. what the data center received, as a table per visitor: a row's
   ``account`` is the customer whose browser had that userId when they
   signed up or logged in, and events recorded away from the visitor's
   browser (the webhook's purchase, the staff edit) are marked;
7. checks that those land under the customer's userId, never the staff
   member's, and that the webhook set no cookie.

Exits non-zero if any of the six event types is missing or a check fails.
Nothing leaves the machine: the shop talks to the fake data center only.
"""

import html
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
TABLET = (
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PASSWORD = "a-demo-pass-123"
#: The example campaign (example_project/campaigns.json) the fake answers.
WIDGET = "also-viewed"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class ThreadedWSGIServer(WSGIServer):
    daemon_threads = True


def serve(app):
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread; returns the URL."""
    server = make_server(
        "127.0.0.1", 0, app, server_class=ThreadedWSGIServer, handler_class=QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


class Visitor:
    """A browser: cookies, a User-Agent, CSRF tokens from the forms."""

    def __init__(self, name, user_agent, base_url):
        import requests

        self.name = name
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        #: Every userId cookie this browser held (it changes when a known
        #: customer logs in on this device).
        self.user_ids = set()
        #: userId cookie -> the customer who signed up or logged in with it.
        self.accounts = {}

    def _seen(self, response):
        response.raise_for_status()
        self.user_ids.update(c.value for c in self.session.cookies if c.name == "dengage_uid")
        return response

    def get(self, path):
        return self._seen(self.session.get(self.base_url + path, timeout=10))

    def post(self, path, **data):
        token = self.session.cookies.get("csrftoken")
        if token is None:
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(path).text)
            token = token.group(1)
        data["csrfmiddlewaretoken"] = token
        response = self.session.post(
            self.base_url + path, data=data, headers={"Referer": self.base_url + path}, timeout=10
        )
        return self._seen(response)

    def beacon(self, path, body):
        """What the page's script sends (``navigator.sendBeacon``): text, no
        CSRF token."""
        response = self.session.post(
            self.base_url + path, data=body.encode(), headers={"Content-Type": "text/plain"}
        )
        return self._seen(response)

    @property
    def user_id(self):
        return self.session.cookies.get("dengage_uid")

    def signed_in(self, username):
        """Note that ``username`` just signed up or logged in on this browser."""
        self.accounts[self.user_id] = username


def pay(base_url, order_id):
    """The payment provider's webhook call: not a browser, no cookies."""
    import requests

    from example_project.store.payments import provider_call

    body, headers = provider_call(order_id)
    return requests.post(base_url + "/webhooks/payment/", data=body, headers=headers, timeout=10)


def already_paid(response):
    """Whether the webhook answered that the order was already paid."""
    try:
        return response.json().get("already_paid") is True
    except ValueError:
        return False


def journeys(base_url, products, facts):
    """Play the visitors; returns them (their cookies name their userIds).

    ``requests`` follows redirects as a browser does: a POST that redirects
    to a page also views that page. What the checks need goes in ``facts``.
    """
    from django.contrib.auth import get_user_model

    first, second, third = products[:3]
    phone = Visitor("phone (iPhone)", PHONE, base_url)
    phone.get("/")
    phone.get(f"/category/{first.category.slug}/")
    facts["search"] = first.name.split()[0]
    phone.get(f"/search/?q={facts['search']}")
    phone.get(f"/product/{first.slug}/")
    phone.post("/basket/add/", product_id=first.sku, quantity="2", **size(first))
    page = phone.get(f"/product/{second.slug}/")
    # Dengage's "You may also like" widget (live, from the fake data center,
    # which learned the first product): the phone follows its first link.
    links = re.findall(r'<a href="([^"]*_sgm_campaign=[^"]*)"', page.text)
    facts["widget links"] = [html.unescape(link) for link in links]
    # The widget scrolled into view: the page's script reports it.
    for token in re.findall(r'data-dengage-view="([^"]+)"', page.text):
        phone.beacon("/dengage/widget-view/", html.unescape(token))
    if links:
        phone.get(facts["widget links"][0])
    phone.post("/basket/add/", product_id=second.sku, quantity="1", **size(second))
    phone.post("/basket/remove/", product_id=second.sku)
    phone.get("/checkout/customer/")
    phone.post(
        "/checkout/customer/",
        full_name="Elif Demir",
        email="elif@example.com",
        address="Bağdat Cad. 1, İstanbul",
    )
    phone.post("/checkout/payment/", payment_type="credit_card", card_number="4000000000000002")
    phone.post("/checkout/payment/", payment_type="credit_card", card_number="4242424242424242")

    tablet = Visitor("tablet (Android)", TABLET, base_url)
    tablet.get("/")
    tablet.post(
        "/accounts/signup/",
        username="deniz",
        email="deniz@example.com",
        password1=PASSWORD,
        password2=PASSWORD,
    )
    tablet.signed_in("deniz")
    # From a Dengage e-mail campaign: its links carry Segmentify's utm_*.
    facts["campaign"] = ("click", "mail-42", "act-1")
    tablet.get(
        f"/product/{third.slug}/?utm_source=segmentify&utm_medium=click"
        "&utm_campaign=mail-42&utm_content=act-1"
    )
    tablet.post("/wishlist/add/", product_id=third.sku)
    tablet.post(
        "/accounts/profile/", first_name="Deniz", last_name="Kaya", email="deniz.kaya@example.com"
    )
    tablet.post("/accounts/logout/")

    desktop = Visitor("desktop (Windows)", DESKTOP, base_url)
    desktop.get("/")
    desktop.post("/accounts/login/", username="ayse", password=PASSWORD)
    desktop.signed_in("ayse")
    desktop.get(f"/product/{third.slug}/")
    desktop.post("/basket/add/", product_id=third.sku, quantity="1", **size(third))
    desktop.get("/checkout/customer/")
    desktop.post(
        "/checkout/customer/",
        full_name="Ayşe Yılmaz",
        email="ayse@example.com",
        address="Kızılay, Ankara",
    )
    # A signed-in customer's card: the order awaits the payment provider,
    # which then calls the webhook (twice: providers retry).
    done = desktop.post(
        "/checkout/payment/", payment_type="credit_card", card_number="4242424242424242"
    )
    facts["order"] = int(re.search(r"/checkout/done/(\d+)/", done.url).group(1))
    facts["webhook"] = [pay(base_url, facts["order"]) for _ in range(2)]
    desktop.post("/accounts/logout/")

    # A staff member corrects deniz's e-mail on the shop's staff page.
    staff = Visitor("staff (Mac)", MAC, base_url)
    staff.get("/")
    staff.post("/accounts/login/", username="mehmet", password=PASSWORD)
    staff.signed_in("mehmet")
    staff.get("/staff/customers/")
    deniz = get_user_model().objects.get(username="deniz")
    edit = f"/staff/customers/{deniz.pk}/edit/"
    staff.get(edit)
    facts["staff email"] = "deniz@kaya.example.com"
    staff.post(edit, first_name="Deniz", last_name="Kaya", email=facts["staff email"])
    staff.post("/accounts/logout/")

    crawler = Visitor("crawler (Googlebot)", CRAWLER, base_url)
    for path in ("/", f"/product/{first.slug}/", f"/category/{first.category.slug}/"):
        crawler.get(path)
    return [phone, tablet, desktop, staff, crawler]


def size(product):
    sizes = [s.strip() for s in (product.sizes or "").split(",") if s.strip()]
    return {"size": sizes[0]} if sizes else {}


def key_fields(event):
    name = event["name"]
    if name == "PAGE_VIEW":
        return " / ".join(filter(None, [event.get("category"), event.get("subCategory")]))
    if name == "PRODUCT_VIEW":
        return f"{event['productId']} {event.get('title', '')} {event.get('price', '')}"
    if name == "BASKET_OPERATIONS":
        return f"{event['step']} {event['productId']} x{event['quantity']}"
    if name == "CHECKOUT":
        items = ",".join(f"{p['productId']}x{p.get('quantity', 1)}" for p in event["productList"])
        order = f" order {event['orderNo']}" if "orderNo" in event else ""
        return f"{event['step']} {event['totalPrice']} {event.get('currency', '')} [{items}]{order}"
    if name == "USER_OPERATIONS":
        extra = event.get("email") or event.get("fullName") or ""
        return f"{event['step']} {event.get('username', '')} {extra}".rstrip()
    if name == "CUSTOM_EVENT":
        return f"{event['type']} {event.get('params', {})}"
    if name == "SEARCH":
        return repr(event["query"])
    if name == "INTERACTION":
        return f"{event['type']} {event['instanceId']} {event.get('interactionId', '')}".rstrip()
    return ""


def is_webhook_purchase(event, facts):
    return (
        event["name"] == "CHECKOUT"
        and event.get("step") == "purchase"
        and event.get("orderNo") == str(facts.get("order"))
    )


def is_staff_update(event, facts):
    return (
        event["name"] == "USER_OPERATIONS"
        and event.get("step") == "update"
        and event.get("email") == facts.get("staff email")
    )


def note(event, facts):
    """Where an event recorded away from the visitor's browser came from."""
    if is_webhook_purchase(event, facts):
        return "<- payment webhook (server-side)"
    if is_staff_update(event, facts):
        return "<- staff edit by mehmet (server-side)"
    if "device" not in event:
        return "<- outside a request (demo setup)"
    return ""


def print_table(events, visitors, facts):
    owner, accounts = {}, {}
    for visitor in visitors:
        for user_id in visitor.user_ids:
            owner[user_id] = visitor.name
        accounts.update(visitor.accounts)
    groups = defaultdict(list)
    for event in events:
        groups[owner.get(event["userId"], "outside a request")].append(event)
    width = {"event": 17, "device": 7, "user": 14, "account": 7}
    for name in [v.name for v in visitors] + ["outside a request"]:
        rows = groups.get(name, [])
        print(f"\n== {name}: {len(rows)} events")
        if not rows:
            continue
        print(
            f"  {'event':<{width['event']}} {'device':<{width['device']}} "
            f"{'userId':<{width['user']}} {'account':<{width['account']}} key fields"
        )
        for event in rows:
            user_id = event["userId"]
            short = user_id if len(user_id) <= width["user"] else user_id[:11] + "..."
            device = event.get("device", "-")
            account = accounts.get(user_id, "-")
            fields = " ".join(filter(None, [key_fields(event), note(event, facts)]))
            print(
                f"  {event['name']:<{width['event']}} {device:<{width['device']}} "
                f"{short:<{width['user']}} {account:<{width['account']}} {fields}"
            )


def browser_sessions(events, user_id):
    """The sessionIds of ``user_id``'s events recorded in their browser."""
    return {e["sessionId"] for e in events if e["userId"] == user_id and "device" in e}


def checks(events, visitors, facts):
    """``(passed, description)`` of what this demo is about."""
    by_name = {visitor.name.split()[0]: visitor for visitor in visitors}
    ayse = {uid for uid, name in by_name["desktop"].accounts.items() if name == "ayse"}
    deniz = {uid for uid, name in by_name["tablet"].accounts.items() if name == "deniz"}
    first, again = facts["webhook"]
    cookies = [r.headers.get("Set-Cookie") for r in facts["webhook"] if "Set-Cookie" in r.headers]
    purchases = [e for e in events if is_webhook_purchase(e, facts)]
    updates = [e for e in events if is_staff_update(e, facts)]
    staff_ids = by_name["staff"].user_ids
    searches = [e for e in events if e["name"] == "SEARCH"]
    interactions = [e for e in events if e["name"] == "INTERACTION"]
    mail = [e for e in interactions if e["instanceId"] == facts["campaign"][1]]
    widget = [e for e in interactions if e["instanceId"] == WIDGET]
    phone_ids = by_name["phone"].user_ids
    results = [
        (
            first.status_code == again.status_code == 200 and already_paid(again) and not cookies,
            "payment webhook answered 200, then 200 (already paid), and set no cookie "
            f"(got {first.status_code}, {again.status_code}, cookies: {cookies or 'none'})",
        ),
        (
            len(purchases) == 1,
            f"the webhook's purchase of order {facts['order']} was recorded once "
            f"({len(purchases)} received)",
        ),
        (
            len(purchases) == 1
            and purchases[0]["userId"] in ayse
            and purchases[0]["sessionId"] not in browser_sessions(events, purchases[0]["userId"]),
            "it is under ayse's userId (the desktop's at her login), in a session of its own",
        ),
        (
            len(updates) == 1,
            f"the staff edit's update was recorded once ({len(updates)} received)",
        ),
        (
            len(updates) == 1
            and updates[0]["userId"] in deniz
            and updates[0]["userId"] not in staff_ids,
            "it is under deniz's userId (the tablet's at sign-up), not the staff member's",
        ),
        (
            [(e["type"], e["instanceId"], e["interactionId"]) for e in mail] == [facts["campaign"]]
            and all(e["userId"] in by_name["tablet"].user_ids for e in mail)
            and not any("utm_" in e.get("pageUrl", "") for e in events),
            "the tablet's landing from an e-mail campaign was one INTERACTION click, "
            "under its userId, and no pageUrl kept the campaign's parameters",
        ),
        (
            bool(facts["widget links"])
            and any(e["type"] == "impression" and e["userId"] in phone_ids for e in widget)
            and [e["userId"] in phone_ids for e in widget if e["type"] == "widget-view"] == [True]
            and [e["userId"] in phone_ids for e in widget if e["type"] == "click"] == [True]
            and all(e["interactionId"] == "act_" + WIDGET for e in widget),
            f"the phone saw Dengage's widget ({len(facts['widget links'])} products, rendered "
            "live) and followed a link: impressions, one view and one click under its userId",
        ),
        (
            [e["query"] for e in searches] == [facts["search"]]
            and all(e["userId"] in by_name["phone"].user_ids for e in searches),
            f"the phone's search for {facts['search']!r} was recorded once, under its userId",
        ),
    ]
    return results


def start(settings_module, **environment):
    """The fake data center, and Django set up with ``settings_module`` on a
    fresh SQLite database, sending to that data center (``environment``:
    more variables); returns the fake and the database's folder."""
    from dengage_django.testing import FakeDengageServer

    api_key = "11111111-2222-3333-4444-555555555555"
    origin = "https://shop.example.com"
    fake = FakeDengageServer(api_key=api_key, origin=origin).start()
    workdir = tempfile.mkdtemp(prefix="dengage-demo-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATABASE_URL=f"sqlite:///{workdir}/demo.sqlite3",
        DENGAGE_API_KEY=api_key,
        DENGAGE_DATA_CENTER_URL=fake.url,
        FAKE_DENGAGE_URL=fake.url,  # the example shop's own setting
        DENGAGE_ORIGIN=origin,
        **environment,
    )
    import django

    django.setup()
    from django.conf import settings

    # The demo's passwords guard nothing: a fast hasher keeps it quick (set
    # before any password is hashed, so before Django caches the hashers).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return fake, workdir


def main():
    started = time.monotonic()
    from dengage_django.events.validation import EVENT_NAMES
    from dengage_django.testing import Campaign

    fake, _ = start("example_project.shop.settings", DEBUG="true")
    with open(Path(__file__).with_name("campaigns.json")) as campaigns:
        fake.add_campaigns(Campaign.from_dict(c) for c in json.load(campaigns))
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from example_project.store.models import Product

    print(f"Fake Dengage data center: {fake.url}")
    call_command("migrate", verbosity=0)
    call_command("seed_shop", verbosity=0)
    # A customer who registered long ago and a member of staff (created
    # outside any request).
    users = get_user_model().objects
    users.create_user("ayse", "ayse@example.com", PASSWORD, first_name="Ayşe", last_name="Yılmaz")
    users.create_user("mehmet", "mehmet@example.com", PASSWORD, is_staff=True)
    server, base_url = serve(get_wsgi_application())
    print(f"Example shop:             {base_url}")
    products = list(Product.objects.select_related("category").filter(stock__gt=0)[:3])
    facts = {}
    visitors = journeys(base_url, products, facts)
    server.shutdown()
    for number, response in enumerate(facts["webhook"], 1):
        print(
            f"Payment provider, call {number}: POST /webhooks/payment/ (order {facts['order']}, "
            f"no cookies) -> {response.status_code} {response.text}"
        )

    print("\n$ manage.py send_dengage_outbox")
    call_command("send_dengage_outbox", "--no-progress")
    events = fake.events
    fake.stop()
    print_table(events, visitors, facts)

    counts = Counter(event["name"] for event in events)
    print("\nReceived: " + ", ".join(f"{name} {counts[name]}" for name in EVENT_NAMES))
    results = checks(events, visitors, facts)
    print("Checks:")
    for passed, description in results:
        print(f"  {'ok  ' if passed else 'FAIL'} {description}")
    print(f"Demo finished in {time.monotonic() - started:.1f} s.")
    status = 0
    missing = [name for name in EVENT_NAMES if not counts[name]]
    if missing:
        print(f"MISSING event types: {', '.join(missing)}", file=sys.stderr)
        status = 1
    failed = [description for passed, description in results if not passed]
    if failed:
        print("FAILED checks: " + "; ".join(failed), file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
