"""A real browser (headless Chromium) through the example shop.

The shop runs as its own process (``manage.py runserver``) against a fresh
SQLite file and this test's FakeDengageServer; Playwright drives Debian's
``/usr/bin/chromium`` (no browser download). A phone visitor browses, adds to
the basket, checks out and signs up; the test then runs the sender and
asserts what the data center received, and the cookies the browser holds.

Runs in the ``browser`` tox environment (``pytest -m browser``); ``make
test`` installs Chromium when it is missing.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def describe(event):
    """The field that tells one event of a journey from another."""
    if event["name"] == "PAGE_VIEW":
        return " / ".join(filter(None, [event.get("category"), event.get("subCategory")]))
    if event["name"] == "PRODUCT_VIEW":
        return event["productId"]
    return event.get("step") or event.get("type")


def phone(playwright):
    """Headless Chromium as an iPhone: (browser, context, page)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS)
    context = browser.new_context(user_agent=IPHONE, viewport={"width": 390, "height": 844})
    return browser, context, context.new_page()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, str(ROOT / "example_project" / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.fixture
def shop(fake_server, tmp_path):
    """The example shop on a free port, wired to ``fake_server``."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        DENGAGE_API_KEY="11111111-2222-3333-4444-555555555555",
        DENGAGE_DATA_CENTER_URL=fake_server.url,
        DENGAGE_ORIGIN="https://shop.example.com",
        DEBUG="true",
        PYTHONPATH=str(ROOT),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "seed_shop")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "example_project" / "manage.py"),
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the shop did not start: {server.stderr.read()}") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", env
    server.terminate()
    server.wait(timeout=10)


def test_a_phone_visitor_buys_and_signs_up(shop, fake_server):
    from playwright.sync_api import sync_playwright

    base_url, env = shop
    with sync_playwright() as playwright:
        browser, context, page = phone(playwright)
        page.goto(base_url + "/")
        page.locator("a[href^='/product/']").first.click()
        page.wait_for_load_state()
        product_url = page.url
        page.locator("form[action='/basket/add/'] button[type='submit']").click()
        page.wait_for_url(base_url + "/basket/")
        page.locator("a[href='/checkout/customer/']").first.click()
        page.wait_for_url(base_url + "/checkout/customer/")
        page.fill("input[name='full_name']", "Elif Demir")
        page.fill("input[name='email']", "elif@example.com")
        page.fill("[name='address']", "Bağdat Cad. 1, İstanbul")
        page.locator("form button[type='submit']").last.click()
        page.wait_for_url(base_url + "/checkout/payment/")
        page.select_option("select[name='payment_type']", "credit_card")
        page.fill("input[name='card_number']", "4242424242424242")
        page.locator("form button[type='submit']").last.click()
        page.wait_for_url(base_url + "/checkout/done/*/")
        page.goto(base_url + "/accounts/signup/")
        page.fill("input[name='username']", "elif")
        page.fill("input[name='email']", "elif@example.com")
        page.fill("input[name='password1']", "a-browser-pass-123")
        page.fill("input[name='password2']", "a-browser-pass-123")
        page.locator("form button[type='submit']").last.click()
        page.wait_for_url(base_url + "/")
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        browser.close()

    sender = manage(env, "send_dengage_outbox", "--no-progress")
    assert sender.stdout.splitlines()[-1].startswith("sent ")

    events = fake_server.events
    summary = [(e["name"], describe(e)) for e in events]
    assert summary == [
        ("PAGE_VIEW", "Home Page"),
        ("PAGE_VIEW", "Product Page / Men > Sports > Shoes"),
        ("PRODUCT_VIEW", "RUN-001"),
        ("BASKET_OPERATIONS", "add"),
        ("PAGE_VIEW", "Basket Page"),
        ("CHECKOUT", "basket"),
        ("PAGE_VIEW", "Checkout Page / Customer"),
        ("CHECKOUT", "customer"),
        ("PAGE_VIEW", "Checkout Page / Payment"),
        ("CHECKOUT", "payment"),
        ("CHECKOUT", "purchase"),
        ("PAGE_VIEW", "Checkout Page / Success"),
        ("PAGE_VIEW", "Account Page / Signup"),
        ("USER_OPERATIONS", "signup"),
        ("USER_OPERATIONS", "signin"),
        ("PAGE_VIEW", "Home Page"),
    ], "\n".join(map(str, summary))
    assert events[2]["url"] == product_url.replace(base_url, "https://shop.example.com")
    assert {e["device"] for e in events} == {"MOBILE"}
    assert len({e["userId"] for e in events}) == 1
    assert events[10]["totalPrice"] == events[5]["totalPrice"]
    assert events[13]["username"] == "elif"

    uid = cookies["dengage_uid"]
    assert uid["value"] == events[0]["userId"]
    assert uid["httpOnly"] is True and uid["sameSite"] == "Lax"
    assert uid["expires"] > time.time() + 389 * 24 * 3600


def test_a_visitor_clicks_a_recommended_product(shop, fake_server):
    """Dengage's widget, rendered by the server from the live answer: its
    impression, its view once scrolled to, the click on one of its
    products and where it led."""
    import json

    from playwright.sync_api import sync_playwright

    from dengage_django.testing import Campaign

    campaigns = json.loads((ROOT / "example_project" / "campaigns.json").read_text())
    fake_server.add_campaigns(Campaign.from_dict(c) for c in campaigns)
    base_url, env = shop
    with sync_playwright() as playwright:
        browser, context, page = phone(playwright)
        page.goto(base_url + "/")
        products = page.locator("a[href^='/product/']")
        first, second = products.nth(0).get_attribute("href"), products.nth(2).get_attribute("href")
        page.goto(base_url + first)  # the data center learns this product
        page.goto(base_url + second)
        widget = page.locator("section.recommendations")
        assert widget.locator("h2").inner_text() == "You may also like"
        # Seen: the page's script reports it once half of it is on screen.
        with page.expect_response(lambda r: r.url.endswith("/dengage/widget-view/")) as seen:
            widget.scroll_into_view_if_needed()
        assert seen.value.status == 204
        link = widget.locator("a").first
        assert link.get_attribute("href").startswith(first + "?")
        link.click()
        page.wait_for_url(base_url + first + "?*")
        landed = page.url
        browser.close()

    manage(env, "send_dengage_outbox", "--no-progress")
    events = fake_server.events
    interactions = [
        (e["type"], e["instanceId"], e["interactionId"]) for e in fake_server.interactions()
    ]
    # The widget's impression and view on its page; on the page its link led
    # to, the click (and that page's own widget's impression).
    widget = ("also-viewed", "act_also-viewed")
    assert interactions[:2] == [("impression", *widget), ("widget-view", *widget)]
    assert sorted(interactions[2:]) == [("click", *widget), ("impression", *widget)]
    assert len({e["userId"] for e in events}) == 1
    # The landing page is reported without the attribution parameters.
    assert "_sgm_" in landed
    assert not any("_sgm_" in e.get("pageUrl", "") for e in events)
    assert [e["name"] for e in events].count("PRODUCT_VIEW") == 3
