"""What an integration's app registers in ``ready()`` (the Oscar one does):
middleware hooks, staff areas, common-field fallbacks, the default user
fields, and the category of pages answered 404."""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.test import AsyncClient, Client
from django.urls import path

from dengage_django.events import users
from dengage_django.models import OutboxEvent
from dengage_django.recording import store
from dengage_django.tracking import categories, hooks, policy

pytestmark = pytest.mark.django_db

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


def page(request):
    return HttpResponse("<html><body>a page</body></html>")


def missing(request):
    raise Http404("no such thing")


def moved(request):
    return HttpResponse(status=302, headers={"Location": "/"})


urlpatterns = [
    path("", page, name="home"),
    path("back/", page, name="back-office"),
    path("back/orders/", page, name="back-orders"),
    path("missing/", missing, name="missing"),
    path("moved/", moved, name="moved"),
]


@pytest.fixture
def urls(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def registries():
    """Every registry as it was, after the test."""
    saved = (
        list(hooks.FINISH_HOOKS),
        list(policy.STAFF_AREAS),
        dict(store.FALLBACKS),
        list(users._default_builder),
        dict(categories.DEFAULTS),
    )
    yield
    hooks.FINISH_HOOKS[:] = saved[0]
    policy.STAFF_AREAS[:] = saved[1]
    policy._patterns.clear()
    store.FALLBACKS.clear()
    store.FALLBACKS.update(saved[2])
    users._default_builder[:] = saved[3]
    categories.DEFAULTS.clear()
    categories.DEFAULTS.update(saved[4])


def browser():
    return Client(headers={"user-agent": DESKTOP, "accept": "text/html"})


def payloads(name):
    return list(
        OutboxEvent.objects.filter(name=name).order_by("pk").values_list("payload", flat=True)
    )


# -- finish hooks ----------------------------------------------------------------


def test_a_hook_runs_for_tracked_requests_before_the_page_view(urls, registries):
    seen = []

    def hook(tracker, response):
        seen.append((tracker.request.path, response.status_code, tracker.page_view))
        tracker.state["mine"] = "kept"
        tracker.page("Hooked Page", "From The Hook")

    hooks.on_finish(hook)
    hooks.on_finish(hook)  # once per function
    browser().get("/moved/")
    browser().get("/")
    assert [(path, status) for path, status, _ in seen] == [("/moved/", 302), ("/", 200)]
    assert [view for _, _, view in seen] == [None, None]  # before the PAGE_VIEW
    [view] = payloads("PAGE_VIEW")
    assert (view["category"], view["subCategory"]) == ("Hooked Page", "From The Hook")


def test_a_hook_does_not_run_for_untracked_requests(urls, registries, settings):
    seen = []
    hooks.on_finish(lambda tracker, response: seen.append(tracker.request.path))
    policy.register_staff_area("back-office")
    browser().get("/back/orders/")
    Client(headers={"user-agent": "curl/8.0"}).get("/")  # not a browser
    assert seen == []


def test_a_failing_hook_breaks_nothing_outside_strict_mode(urls, registries, settings, caplog):
    settings.DENGAGE_STRICT = False
    ran = []

    def broken(tracker, response):
        raise ValueError("the hook broke")

    hooks.on_finish(broken)
    hooks.on_finish(lambda tracker, response: ran.append(True))
    response = browser().get("/")
    assert response.status_code == 200
    assert ran == [True]  # the next hook ran
    assert len(payloads("PAGE_VIEW")) == 1
    assert "dengage_uid" in response.cookies
    assert "the hook broke" in caplog.text


def test_a_failing_hook_raises_in_strict_mode(urls, registries, settings):
    settings.DENGAGE_STRICT = True

    def broken(tracker, response):
        raise ValueError("the hook broke")

    hooks.on_finish(broken)
    with pytest.raises(ValueError, match="the hook broke"):
        browser().get("/")


def test_hooks_run_in_the_async_stack(urls, registries, settings):
    seen = []
    hooks.on_finish(lambda tracker, response: seen.append(response.status_code))
    # AsyncClient(headers=...) lands in the ASGI scope: given per request.
    headers = {"user-agent": DESKTOP, "accept": "text/html"}
    async_to_sync(AsyncClient().get)("/", headers=headers)
    assert seen == [200]
    assert len(payloads("PAGE_VIEW")) == 1


# -- staff areas ---------------------------------------------------------------


def test_a_registered_staff_area_is_excluded_like_the_admin(urls, registries):
    browser().get("/back/orders/")
    assert len(payloads("PAGE_VIEW")) == 1  # not yet a staff area
    policy.register_staff_area("back-office")
    policy.register_staff_area("back-office")
    assert policy.STAFF_AREAS.count("back-office") == 1
    browser().get("/back/orders/")
    browser().get("/back/")
    assert len(payloads("PAGE_VIEW")) == 1
    assert policy.is_excluded("/back/orders/")
    assert not policy.is_excluded("/")


def test_a_staff_area_the_urlconf_lacks_excludes_nothing(urls, registries):
    policy.register_staff_area("no-such-url")
    browser().get("/")
    assert len(payloads("PAGE_VIEW")) == 1


# -- common-field fallbacks ------------------------------------------------------


def test_a_fallback_fills_a_common_field_only_when_its_setting_is_unset(urls, registries, settings):
    store.register_fallback("currency", lambda: "GBP")
    browser().get("/")
    settings.DENGAGE_DEFAULT_CURRENCY = "TRY"
    browser().get("/")
    assert [view["currency"] for view in payloads("PAGE_VIEW")] == ["GBP", "TRY"]


def test_a_fallback_giving_nothing_leaves_the_field_out(urls, registries):
    store.register_fallback("region", lambda: None)
    browser().get("/")
    [view] = payloads("PAGE_VIEW")
    assert "region" not in view


def test_a_fallback_for_another_field_is_refused(registries):
    with pytest.raises(ValueError, match="pageUrl"):
        store.register_fallback("pageUrl", lambda: "https://example.com/")
    assert "pageUrl" not in store.FALLBACKS


# -- the default user fields ---------------------------------------------------------


def test_a_registered_builder_replaces_the_default_user_fields(registries, settings):
    user = get_user_model()(username="x81", email="ada@example.com", pk=7)
    assert users.user_fields(user)["username"] == "x81"
    users.register_default_builder(lambda user: {"username": user.email})
    assert users.user_fields(user) == {"username": "ada@example.com"}
    settings.DENGAGE_USER_FIELDS = lambda user: {"username": "the-shops-own"}
    assert users.user_fields(user) == {"username": "the-shops-own"}  # the setting wins
    del settings.DENGAGE_USER_FIELDS
    settings.DENGAGE_SEND_CONTACT_DETAILS = False
    assert users.user_fields(user) == {"username": "7"}  # still withheld


# -- pages answered 404 ------------------------------------------------------------


def test_a_404_is_no_page_view_without_its_category(urls, registries):
    assert browser().get("/missing/").status_code == 404
    assert browser().get("/nowhere/").status_code == 404
    assert payloads("PAGE_VIEW") == []


def test_a_404_with_its_category_is_a_page_view_of_that_category(urls, registries, settings):
    settings.DENGAGE_PAGE_CATEGORIES = {"404": "404 Page", "*": "Other Page"}
    browser().get("/missing/")  # resolved, the view raised Http404
    browser().get("/nowhere/")  # resolved nothing
    browser().get("/")
    Client(headers={"user-agent": DESKTOP, "accept": "text/html"}).head("/nowhere/")
    assert [view["category"] for view in payloads("PAGE_VIEW")] == [
        "404 Page",
        "404 Page",
        "Other Page",
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-dest": "image", "accept": "text/html,image/avif,*/*"},
        {"accept": "image/avif,image/webp,*/*"},
        {"sec-fetch-dest": "script"},
        {},
    ],
)
def test_a_404_the_browser_did_not_ask_as_a_page_is_no_page_view(urls, registries, headers):
    categories.register_defaults({"404": "404 Page"})
    client = Client(headers={"user-agent": DESKTOP, **headers})
    client.cookies["dengage_uid"] = "u-1"  # a visitor, not a first request without cookies
    assert client.get("/favicon.ico").status_code == 404
    assert payloads("PAGE_VIEW") == []
    client.get("/favicon.ico", headers={"sec-fetch-dest": "document", "accept": "*/*"})
    assert [view["category"] for view in payloads("PAGE_VIEW")] == ["404 Page"]


def test_an_integrations_404_category_yields_to_the_shops(urls, registries, settings):
    categories.register_defaults({"404": ["404 Page", "Lost"]})
    browser().get("/nowhere/")
    settings.DENGAGE_PAGE_CATEGORIES = {"404": "Not Found"}
    browser().get("/nowhere/")
    assert [(v["category"], v.get("subCategory")) for v in payloads("PAGE_VIEW")] == [
        ("404 Page", "Lost"),
        ("Not Found", None),
    ]
