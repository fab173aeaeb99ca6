"""The flood guard: at most DENGAGE_NEW_VISITORS_PER_MINUTE new visitors per
client address and minute; beyond, cookieless requests are treated as bots."""

import logging

import pytest
from django.core.cache.backends.base import BaseCache
from django.test import Client, RequestFactory

from dengage_django.conf import DEFAULTS
from dengage_django.models import OutboxEvent
from dengage_django.tracking import policy

from .test_tracking import DESKTOP, GOOGLEBOT

pytestmark = pytest.mark.django_db

SCRAPER = "93.184.216.34"
DOCUMENTATION = "198.51.100.7"  # a documentation range: not public
NEIGHBOUR = "81.2.69.160"
PROXY = "10.0.0.5"


@pytest.fixture(autouse=True)
def guard(settings, request, monkeypatch):
    """A fresh local-memory cache per test, a limit of 30, and the flood
    guard's clock stopped mid-minute (a test crossing a minute would start
    a new count halfway)."""
    from types import SimpleNamespace

    monkeypatch.setattr(policy, "time", SimpleNamespace(time=lambda: 6_000_030.0))
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"flood-{request.node.name}",
        }
    }
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 30
    policy._cache_failure_logged = False
    yield settings
    policy._cache_failure_logged = False


def visit(address=SCRAPER, path="/", client=None, **headers):
    """One request of a client (a new cookieless one unless ``client``)."""
    client = client or Client(headers={"user-agent": DESKTOP})
    return client.get(path, REMOTE_ADDR=address, **headers)


def page_views():
    return [e.payload for e in OutboxEvent.objects.filter(name="PAGE_VIEW").order_by("id")]


def test_the_default_limit_is_30_a_minute():
    assert DEFAULTS["NEW_VISITORS_PER_MINUTE"] == 30
    assert DEFAULTS["CLIENT_ADDRESS_HEADER"] is None
    assert DEFAULTS["FLOOD_CACHE"] == "default"


def test_200_cookieless_requests_from_one_address_make_30_visitors():
    responses = [visit() for _ in range(200)]
    assert all(response.status_code == 200 for response in responses)
    pages = page_views()
    assert len(pages) == 30
    assert len({page["userId"] for page in pages}) == 30
    # Beyond the limit: no ids, no cookies, like a bot.
    assert all("dengage_uid" in response.cookies for response in responses[:30])
    assert not any(response.cookies for response in responses[30:])


def test_other_addresses_are_counted_apart():
    for _ in range(40):
        visit(SCRAPER)
    visit(NEIGHBOUR)
    visit("2a00:1450:4001:81b::200e")
    assert len(page_views()) == 32


def test_a_returning_visitor_from_a_flooding_address_is_still_tracked():
    regular = Client(headers={"user-agent": DESKTOP})
    visit(client=regular)  # gets its cookies (1 of 30)
    for _ in range(100):
        visit()
    assert len(page_views()) == 30
    for _ in range(5):
        visit(client=regular, path="/p/1/")
    pages = page_views()
    assert len(pages) == 35
    assert {page["userId"] for page in pages[-5:]} == {pages[0]["userId"]}


def test_returning_visitors_do_not_use_the_budget(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    regular = Client(headers={"user-agent": DESKTOP})
    for _ in range(10):
        visit(client=regular)  # one new visitor, then nine returns
    visit()  # still room for a second new visitor
    assert len({page["userId"] for page in page_views()}) == 2


def test_a_cookie_that_is_no_valid_id_is_counted(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    for _ in range(5):
        client = Client(headers={"user-agent": DESKTOP})
        client.cookies["dengage_uid"] = "<forged>"
        client.cookies["csrftoken"] = "x"
        visit(client=client)
    assert len(page_views()) == 2


def test_requests_that_mint_nothing_use_no_budget(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 1
    for _ in range(5):
        Client(headers={"user-agent": GOOGLEBOT}).get("/", REMOTE_ADDR=SCRAPER)
        Client(headers={"user-agent": "python-requests/2.32"}).get("/", REMOTE_ADDR=SCRAPER)
        visit(path="/api/", HTTP_ACCEPT="application/json")
        visit(path="/admin/login/")
    visit()
    assert len(page_views()) == 1


def test_no_consent_uses_no_budget(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 1
    settings.DENGAGE_RESPECT_GPC = True
    for _ in range(5):
        visit(HTTP_SEC_GPC="1")
    visit()
    assert len(page_views()) == 1


def test_none_turns_the_guard_off(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = None
    for _ in range(40):
        visit()
    assert len(page_views()) == 40


def test_a_new_minute_starts_a_new_count(settings, monkeypatch):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    now = [6_000_000.0]
    monkeypatch.setattr(policy.time, "time", lambda: now[0])
    for _ in range(5):
        visit()
    now[0] += 60
    for _ in range(5):
        visit()
    assert len(page_views()) == 4


def test_the_untracked_reason_is_flood_and_counted_once_per_request(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 1
    factory = RequestFactory(headers={"user-agent": DESKTOP}, REMOTE_ADDR=SCRAPER)
    first, second = factory.get("/"), factory.get("/")
    for _ in range(5):  # asked again and again: one count
        assert policy.untracked_reason(first) is None
    assert policy.untracked_reason(second) == policy.FLOOD
    assert policy.untracked_reason(second) == policy.FLOOD


def test_tripping_the_guard_is_logged_once_a_minute(settings, caplog):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 3
    with caplog.at_level(logging.WARNING, logger="dengage_django.tracking.policy"):
        for _ in range(10):
            visit()
    messages = [
        r.getMessage() for r in caplog.records if r.name == "dengage_django.tracking.policy"
    ]
    assert len(messages) == 1
    assert "more than 3 new visitors this minute from 93.184.216.34" in messages[0]
    assert "DENGAGE_CLIENT_ADDRESS_HEADER" in messages[0]


# -- Client addresses and proxies ----------------------------------------------------


def test_addresses_that_are_not_public_are_never_counted(settings):
    """Without a header, a loopback or private REMOTE_ADDR is a proxy of the
    site (or a test client, runserver): counting it would count everyone."""
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    for address in (
        "127.0.0.1",
        PROXY,
        "192.168.1.20",
        "172.17.0.1",
        "::1",
        "fe80::1",
        DOCUMENTATION,
    ):
        for _ in range(3):
            visit(address)
    assert len(page_views()) == 21


def test_behind_a_proxy_the_header_names_the_client(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 30
    settings.DENGAGE_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    for _ in range(50):
        visit(PROXY, HTTP_X_FORWARDED_FOR=SCRAPER)
    for _ in range(5):
        visit(PROXY, HTTP_X_FORWARDED_FOR=NEIGHBOUR)
    assert len(page_views()) == 35


def test_the_last_forwarded_address_counts_so_a_client_cannot_pick_one(settings):
    """Each proxy appends the address it was reached from: the last one is
    the one the site's proxy saw. A client can write anything before it."""
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 3
    settings.DENGAGE_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    for index in range(10):
        visit(PROXY, HTTP_X_FORWARDED_FOR=f"1.1.1.{index}, 127.0.0.1,  {SCRAPER}")
    assert len(page_views()) == 3


@pytest.mark.parametrize("header", ["X-Real-IP", "HTTP_X_REAL_IP", "x_real_ip"])
def test_the_header_may_be_named_either_way(settings, header):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    settings.DENGAGE_CLIENT_ADDRESS_HEADER = header
    for _ in range(5):
        visit(PROXY, HTTP_X_REAL_IP=SCRAPER)
    assert len(page_views()) == 2


def test_without_the_header_a_request_falls_back_to_remote_addr(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    settings.DENGAGE_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    for _ in range(5):
        visit(SCRAPER)
    assert len(page_views()) == 2


@pytest.mark.parametrize(
    "value, counted_as",
    [
        ("93.184.216.34", "93.184.216.34"),
        ("93.184.216.34:51234", "93.184.216.34"),
        ("[2a00:1450:4001:81b::200e]:443", "2a00:1450:4001:81b::/64"),
        ("2a00:1450:4001:81b:1:2:3:4", "2a00:1450:4001:81b::/64"),
        ("::ffff:93.184.216.34", "93.184.216.34"),
        ('"93.184.216.34"', "93.184.216.34"),
        ("unknown", None),
        ("", None),
        ("10.1.2.3", None),
        ("100.64.0.1", None),  # carrier-grade NAT's shared range: not public
    ],
)
def test_client_address(settings, value, counted_as):
    settings.DENGAGE_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=value)
    assert policy.client_address(request) == counted_as


def test_ipv6_clients_are_counted_per_64_network(settings):
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 3
    for index in range(10):
        visit(f"2a00:1450:4001:81b::{index + 1:x}")
    visit("2a00:1450:4001:81c::1")  # another /64
    assert len(page_views()) == 4


# -- The cache -------------------------------------------------------------------------


class BrokenCache(BaseCache):
    """A cache server that is down."""

    def __init__(self, location, params):
        super().__init__(params)

    def add(self, *args, **kwargs):
        raise ConnectionError("cache server down")

    def incr(self, *args, **kwargs):
        raise ConnectionError("cache server down")


@pytest.mark.parametrize(
    "caches, alias",
    [
        ({"default": {"BACKEND": "tests.test_flood_guard.BrokenCache"}}, "default"),
        (None, "no-such-cache"),
    ],
    ids=["cache down", "unknown alias"],
)
def test_a_failing_cache_lets_everyone_in_and_says_so_once(settings, caplog, caches, alias):
    if caches is not None:
        settings.CACHES = caches
    settings.DENGAGE_FLOOD_CACHE = alias
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    with caplog.at_level(logging.WARNING, logger="dengage_django.tracking.policy"):
        for _ in range(10):
            assert visit().status_code == 200
    assert len(page_views()) == 10
    warnings = [r for r in caplog.records if r.name == "dengage_django.tracking.policy"]
    assert len(warnings) == 1
    assert "flood guard cannot use cache" in warnings[0].getMessage()


def test_another_cache_alias_can_count(settings):
    settings.CACHES = {
        "default": {"BACKEND": "tests.test_flood_guard.BrokenCache"},
        "counters": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "flood-counters",
        },
    }
    settings.DENGAGE_FLOOD_CACHE = "counters"
    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    for _ in range(5):
        visit()
    assert len(page_views()) == 2


def test_async_requests_are_guarded_too(settings):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    settings.DENGAGE_NEW_VISITORS_PER_MINUTE = 2
    settings.DENGAGE_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"

    async def flood():
        # The test client's ASGI scope says 127.0.0.1: behind a proxy, then.
        for _ in range(5):
            response = await AsyncClient().get(
                "/async/", headers={"user-agent": DESKTOP, "x-forwarded-for": SCRAPER}
            )
            assert response.status_code == 200

    async_to_sync(flood)()
    assert len(page_views()) == 2
    assert OutboxEvent.objects.filter(name="CUSTOM_EVENT").count() == 2
