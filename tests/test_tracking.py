"""The middleware, request.dengage and the template tags, sync and async."""

import pytest
from asgiref.sync import async_to_sync
from django.template import Context, Template
from django.test import AsyncClient, Client

from dengage_django.exceptions import DengageValidationError
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def browser():
    return Client(headers={"user-agent": DESKTOP})


def events(name=None):
    rows = OutboxEvent.objects.order_by("id")
    if name:
        rows = rows.filter(name=name)
    return [row.payload for row in rows]


def test_page_view_with_category_from_the_tag(browser):
    response = browser.get("/", headers={"referer": "https://google.com/"})
    assert response.status_code == 200
    [page] = events()
    assert page["name"] == "PAGE_VIEW"
    assert page["category"] == "Home Page"
    assert page["device"] == "PC"
    assert page["pageUrl"] == "http://testserver/"
    assert page["referrer"] == "https://google.com/"
    assert page["lang"] == "en"
    assert page["userId"] == response.cookies["dengage_uid"].value


def test_product_page_reports_the_product_once(browser):
    browser.get("/p/1/")
    names = [event["name"] for event in events()]
    assert names == ["PAGE_VIEW", "PRODUCT_VIEW"]
    page, product = events()
    assert product["productId"] == "P1"
    assert product["price"] == 349.99 and product["inStock"] is True
    assert (page["category"], page["subCategory"]) == ("Product Page", "Men > Sports")


@pytest.mark.parametrize(
    "method, path, kwargs",
    [
        ("post", "/", {}),
        ("get", "/api/", {}),
        ("get", "/plain/", {}),
        ("get", "/missing/", {}),
        ("get", "/admin/login/", {}),
        ("get", "/static/site.css", {}),
        ("get", "/", {"headers": {"sec-purpose": "prefetch;prerender"}}),
        ("get", "/", {"headers": {"purpose": "prefetch"}}),
        ("head", "/", {}),
    ],
)
def test_no_page_view(browser, method, path, kwargs):
    getattr(browser, method)(path, **kwargs)
    assert events("PAGE_VIEW") == []


def test_bots_get_no_ids_and_no_events():
    bot = Client(headers={"user-agent": GOOGLEBOT})
    response = bot.get("/p/1/")
    assert response.status_code == 200
    assert events() == []
    assert "dengage_uid" not in response.cookies


def test_track_bots_setting(settings):
    settings.DENGAGE_TRACK_BOTS = True
    Client(headers={"user-agent": GOOGLEBOT}).get("/")
    assert len(events("PAGE_VIEW")) == 1


def test_consent_callable(browser, settings):
    settings.DENGAGE_CONSENT = lambda request: request.COOKIES.get("consent") == "yes"
    browser.get("/p/1/")
    assert events() == []
    browser.cookies["consent"] = "yes"
    browser.get("/p/1/")
    assert [e["name"] for e in events()] == ["PAGE_VIEW", "PRODUCT_VIEW"]


def test_consent_as_dotted_path(browser, settings):
    settings.DENGAGE_CONSENT = "tests.test_tracking.never"
    browser.get("/")
    assert events() == []


def never(request):
    return False


def test_global_privacy_control_only_when_asked(browser, settings):
    browser.get("/", headers={"sec-gpc": "1"})
    assert len(events()) == 1
    settings.DENGAGE_RESPECT_GPC = True
    browser.get("/", headers={"sec-gpc": "1"})
    assert len(events()) == 1


def test_excluded_paths_setting(browser, settings):
    settings.DENGAGE_EXCLUDED_PATHS = [r"/p/", r"/checkout/"]
    browser.get("/p/1/")
    browser.get("/checkout/basket/")
    browser.get("/")
    assert [e["name"] for e in events()] == ["PAGE_VIEW"]


def test_untracked_request_still_has_a_tracker_that_does_nothing(settings):
    settings.DENGAGE_TRACK_BOTS = False
    response = Client(headers={"user-agent": GOOGLEBOT}).post("/basket/add/1/", {"qty": "2"})
    assert response.status_code == 302
    assert events() == []


def test_basket_operations_with_default_basket_id(browser):
    browser.get("/")
    user_id = events()[0]["userId"]
    browser.post("/basket/add/1/", {"qty": "2"})
    browser.post("/basket/remove/1/")
    add, remove = events("BASKET_OPERATIONS")
    assert add["step"] == "add" and add["quantity"] == 2 and add["price"] == 349.99
    assert add["basketId"] == remove["basketId"] == f"basket_{user_id}"
    assert remove["step"] == "remove" and remove["quantity"] == 1


def test_checkout_tag_adapts_the_basket(browser):
    browser.get("/checkout/customer/")
    [checkout] = events("CHECKOUT")
    assert checkout["step"] == "customer"
    assert checkout["totalPrice"] == 374.49
    assert checkout["currency"] == "EUR"
    assert checkout["cartUrl"] == "http://testserver/basket/"
    assert checkout["productList"] == [
        {"productId": "P1", "price": 349.99, "quantity": 1},
        {"productId": "P2", "price": 24.5, "quantity": 1},
    ]


def test_purchase_rolled_back_records_nothing_committed_records_it(browser):
    browser.cookies["csrftoken"] = "form-loaded"  # a browser that loaded the form
    browser.post("/purchase/", {"fail": "1"})
    assert events("CHECKOUT") == []
    browser.post("/purchase/")
    [purchase] = events("CHECKOUT")
    assert purchase["step"] == "purchase" and purchase["orderNo"] == "1001"


def test_custom_event_tag(browser):
    browser.get("/custom/")
    [custom] = events("CUSTOM_EVENT")
    assert custom["type"] == "wishlist_add"
    assert custom["params"] == {"product_id": 1}


def test_tags_without_a_request_do_nothing():
    template = Template(
        '{% load dengage %}{% dengage_page "Home Page" %}{% dengage_product_view p %}'
        '{% dengage_checkout "basket" b %}{% dengage_custom_event "x" a=1 %}ok'
    )
    assert template.render(Context({"p": None, "b": None})) == "ok"
    assert events() == []


def test_bad_product_in_lenient_mode_is_kept_invalid(browser, lenient):
    response = browser.get("/bad-product/")
    assert response.status_code == 200
    row = OutboxEvent.objects.get(name="PRODUCT_VIEW")
    assert row.status == "invalid"
    assert row.last_error.startswith("PRODUCT_VIEW.price: must be a non-negative number")
    assert events("PAGE_VIEW")  # the page itself was still reported


def test_bad_product_in_strict_mode_raises(browser):
    with pytest.raises(DengageValidationError, match=r"PRODUCT_VIEW\.price"):
        browser.get("/bad-product/")


def test_template_given_none_lenient_and_strict(browser, settings):
    settings.DENGAGE_STRICT = False
    assert browser.get("/none-product/").status_code == 200
    row = OutboxEvent.objects.get(name="PRODUCT_VIEW")
    assert (row.status, row.last_error) == ("invalid", "PRODUCT_VIEW.productId: is required")
    settings.DENGAGE_STRICT = True
    with pytest.raises(DengageValidationError):
        browser.get("/none-product/")


def test_unreadable_product_object_is_invalid(browser, lenient):
    from django.test import RequestFactory

    from dengage_django.tracking.tracker import Tracker

    request = RequestFactory().get("/", headers={"user-agent": DESKTOP})
    request.session = {}
    tracker = Tracker(request)
    event = tracker.product_view(object())
    assert event.status == "invalid"
    assert "cannot read a product from object" in event.last_error


def test_missing_user_agent_renders_and_counts_as_a_bot():
    # No browser sends no User-Agent: scripts (and Django's test Client
    # without headers) are not tracked.
    response = Client().get("/p/1/")
    assert response.status_code == 200
    assert events() == []
    assert "dengage_uid" not in response.cookies


def test_non_utf8_urls_render(browser):
    assert browser.get("/?q=%ff%fe").status_code == 200
    assert browser.get("/%ff%fe/").status_code == 404
    [page] = events("PAGE_VIEW")
    assert page["pageUrl"] == "http://testserver/?q=%ff%fe"


def test_hostile_cookies_are_replaced_not_echoed(browser):
    hostile = "<script>alert(1)</script>" + "x" * 5000
    browser.cookies["dengage_uid"] = hostile
    browser.cookies["sessionid"] = "nonsense"
    response = browser.get("/")
    assert response.status_code == 200
    page = events()[0]
    assert page["userId"] != hostile and len(page["userId"]) == 32
    assert "script" not in response.cookies["dengage_uid"].value


def test_tracking_failure_never_breaks_the_page_when_lenient(browser, lenient, monkeypatch):
    from dengage_django.tracking import tracker

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(tracker.Tracker, "record_page_view", broken)
    assert browser.get("/").status_code == 200


def test_async_stack_records_page_view_and_view_events():
    # AsyncClient(headers=...) lands in the ASGI scope, not in the request's
    # headers: give them per request.
    response = async_to_sync(AsyncClient().get)("/async/", headers={"user-agent": PHONE})
    assert response.status_code == 200
    rows = list(OutboxEvent.objects.order_by("id"))
    assert [row.name for row in rows] == ["PAGE_VIEW", "CUSTOM_EVENT"]
    assert {row.payload["device"] for row in rows} == {"MOBILE"}
    assert rows[0].payload["userId"] == response.cookies["dengage_uid"].value


def test_async_client_on_a_sync_view():
    response = async_to_sync(AsyncClient().get)("/p/2/", headers={"user-agent": DESKTOP})
    assert response.status_code == 200
    names = list(OutboxEvent.objects.order_by("id").values_list("name", flat=True))
    assert names == ["PAGE_VIEW", "PRODUCT_VIEW"]


def test_middleware_is_async_capable_in_an_async_stack():
    from asgiref.sync import iscoroutinefunction

    from dengage_django.middleware import DengageMiddleware

    async def get_response(request):
        return None

    assert iscoroutinefunction(DengageMiddleware(get_response))
    assert not iscoroutinefunction(DengageMiddleware(lambda request: None))


def test_module_level_track_uses_the_request_tracker(browser):
    from django.test import RequestFactory

    import dengage_django
    from dengage_django.tracking.tracker import Tracker

    request = RequestFactory().get("/p/1/", headers={"user-agent": PHONE})
    request.session = {}
    request.dengage = Tracker(request)
    event = dengage_django.track("CUSTOM_EVENT", request=request, type="shared")
    assert event.payload["device"] == "MOBILE"
    assert event.payload["userId"] == request.dengage.user_id


def outbox_inserts(queries):
    return [q for q in queries if q["sql"].startswith("INSERT") and "outboxevent" in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_one_outbox_insert_per_request_page_view_first(browser):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    browser.get("/")
    with CaptureQueriesContext(connection) as captured:
        browser.get("/p/1/")
    assert len(outbox_inserts(captured.captured_queries)) == 1
    assert [e["name"] for e in events()] == ["PAGE_VIEW", "PAGE_VIEW", "PRODUCT_VIEW"]


@pytest.mark.django_db(transaction=True)
def test_events_in_a_view_transaction_are_immediate_and_roll_back(browser):
    browser.cookies["csrftoken"] = "form-loaded"  # a browser that loaded the form
    browser.post("/purchase/", {"fail": "1"})
    assert events() == []
    browser.post("/purchase/")
    assert [e["step"] for e in events("CHECKOUT")] == ["purchase"]


@pytest.mark.django_db(transaction=True)
def test_async_stack_defers_too():
    response = async_to_sync(AsyncClient().get)("/async/", headers={"user-agent": PHONE})
    assert response.status_code == 200
    assert [e["name"] for e in events()] == ["PAGE_VIEW", "CUSTOM_EVENT"]
