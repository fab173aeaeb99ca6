"""Visitor and session ids: cookies, the Django session, /get/key, fallbacks."""

import time

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from dengage_django.models import OutboxEvent
from dengage_django.tracking import ids
from dengage_django.tracking.identity import SESSION_KEY, SESSION_SEEN_KEY, Identity
from dengage_django.tracking.ids import is_valid_id

from .test_tracking import DESKTOP

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    return Client(headers={"user-agent": DESKTOP})


@pytest.fixture
def dengage_ids(settings, fake_server):
    """Ids from the fake data center's /get/key, with a fresh pool."""
    settings.DENGAGE_ID_SOURCE = "dengage"
    ids.key_pool().clear()
    yield fake_server
    ids.key_pool().wait(5)
    ids.key_pool().clear()


def page_ids():
    return [
        (e.payload["userId"], e.payload["sessionId"]) for e in OutboxEvent.objects.order_by("id")
    ]


def test_new_visitor_gets_a_long_lived_secure_cookie(browser):
    response = browser.get("/")
    cookie = response.cookies["dengage_uid"]
    assert is_valid_id(cookie.value)
    assert cookie["max-age"] == 390 * 24 * 3600
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    # No Django session is created for an anonymous visitor: the sessionId
    # lives in a sliding cookie.
    assert "sessionid" not in response.cookies
    assert response.cookies["dengage_sid"].value == page_ids()[0][1]
    assert response.cookies["dengage_sid"]["max-age"] == 30 * 60


def with_django_session(client):
    session = client.session  # the test client creates and saves one
    session["basket"] = {"P1": 1}
    session.save()
    return client


def test_a_visitor_with_a_django_session_keeps_the_session_id_there(browser):
    with_django_session(browser)
    browser.get("/")
    assert browser.session[SESSION_KEY] == page_ids()[0][1]


def test_session_id_moves_from_cookie_to_django_session_unchanged(browser):
    browser.get("/")  # anonymous: cookie
    with_django_session(browser)  # then, say, a basket
    browser.get("/p/1/")
    (_, first), *rest = page_ids()
    assert all(session_id == first for _, session_id in rest)
    assert browser.session[SESSION_KEY] == first


def test_https_cookies_are_secure(browser):
    response = browser.get("/", secure=True)
    assert response.cookies["dengage_uid"]["secure"] is True


def test_returning_visitor_keeps_both_ids(browser):
    browser.get("/")
    second = browser.get("/p/1/")
    first_ids, *rest = page_ids()
    assert all(ids == first_ids for ids in rest)
    # The user cookie is only refreshed with a new session.
    assert "dengage_uid" not in second.cookies


def test_inactivity_starts_a_new_session(browser):
    with_django_session(browser)
    browser.get("/")
    session = browser.session
    session[SESSION_SEEN_KEY] = time.time() - 30 * 60 - 1  # the default timeout
    session.save()
    browser.get("/")
    (user1, session1), (user2, session2) = page_ids()
    assert user1 == user2
    assert session1 != session2


def test_active_visitor_does_not_rewrite_the_session_each_request(browser):
    with_django_session(browser)
    browser.get("/")
    seen = browser.session[SESSION_SEEN_KEY]
    browser.get("/")
    assert browser.session[SESSION_SEEN_KEY] == seen  # within the 60 s granularity


def test_without_session_middleware_the_session_id_is_a_sliding_cookie(settings):
    settings.MIDDLEWARE = [
        "django.middleware.common.CommonMiddleware",
        "dengage_django.middleware.DengageMiddleware",
    ]
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if "admin" not in a]
    client = Client(headers={"user-agent": DESKTOP})
    first = client.get("/")
    cookie = first.cookies["dengage_sid"]
    assert cookie["max-age"] == 30 * 60 and cookie["httponly"] is True
    second = client.get("/")
    assert second.cookies["dengage_sid"].value == cookie.value  # refreshed, same id
    (_, s1), (_, s2) = page_ids()
    assert s1 == s2 == cookie.value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 129,
        "<script>",
        "1;DROP",
        "é",
        "12 34",
        "a,b",
        '"1"',
        "1'",
        "a\\b",
        "a\nb",
        "a\tb",
        "a\x00b",
        "1\n",
        "١٢٣",  # Arabic-Indic digits: not ASCII
        None,
        123,
    ],
)
def test_ids_that_do_not_look_like_ids_are_rejected(value):
    assert not is_valid_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "-8349234098234",
        "123",
        "3f2c9a0b1d2e4f5a6b7c8d9e0f1a2b3c",
        "4f1c2b1e-7d0a-4c55-9a3e-2b7f0c1d9e8a",
        "x.y",
        "--1",
        "shop:42",
        "A_b-C.d:E",
        "a" * 128,
    ],
)
def test_real_ids_are_accepted(value):
    assert is_valid_id(value)


def test_bad_session_value_is_replaced():
    request = RequestFactory().get("/")
    request.session = {SESSION_KEY: "<bad>", SESSION_SEEN_KEY: "yesterday"}
    ids = Identity(request).resolve()
    assert is_valid_id(ids.session_id) and ids.new_session
    ids.write_back(HttpResponse())
    assert request.session[SESSION_KEY] == ids.session_id


def test_ids_come_from_dengage_in_batches(browser, dengage_ids, settings):
    settings.DENGAGE_ID_POOL_SIZE = 10
    for _ in range(4):
        Client(headers={"user-agent": DESKTOP}).get("/")
        ids.key_pool().wait(5)
    key_requests = [r for r in dengage_ids.requests if r.path == "/get/key"]
    # The first visitor finds the pool empty (local ids) and starts a
    # refill of 10; three visitors take 6 of them, leaving 4 (below half of
    # 10): a second refill.
    assert [r.query["count"] for r in key_requests] == ["10", "10"]
    issued = set(dengage_ids.issued_keys)
    first, *others = page_ids()
    assert not set(first) & issued
    for user_id, session_id in others:
        assert user_id in issued and session_id in issued


def test_dengage_outage_falls_back_to_local_ids_and_backs_off(browser, dengage_ids, caplog):
    dengage_ids.fail_next(count=5, status=503, endpoint="keys")
    for _ in range(3):
        Client(headers={"user-agent": DESKTOP}).get("/")
        ids.key_pool().wait(5)
    key_requests = [r for r in dengage_ids.requests if r.path == "/get/key"]
    assert len(key_requests) == 1  # no second call during the back-off
    assert all(len(user_id) == 32 for user_id, _ in page_ids())  # local ids
    assert "using local ids" in caplog.text


def test_slow_dengage_never_slows_a_page(browser, dengage_ids, settings):
    settings.DENGAGE_ID_FETCH_TIMEOUT = 0.2
    dengage_ids.delay_next(2.0, endpoint="keys")
    started = time.monotonic()
    response = browser.get("/")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.0
    assert len(page_ids()) == 1


def test_pool_hands_out_each_key_once(dengage_ids, settings):
    settings.DENGAGE_ID_POOL_SIZE = 6
    pool = ids.KeyPool()
    taken = []
    for _ in range(6):
        taken += pool.take(2)
        pool.wait(5)
    assert len(set(taken)) == 12
    assert set(taken[2:]) <= set(dengage_ids.issued_keys)
    assert pool.fetches == 3


def test_pool_under_threads_never_duplicates(dengage_ids, settings):
    import threading

    settings.DENGAGE_ID_POOL_SIZE = 50
    pool = ids.KeyPool()
    results = []

    def worker():
        for _ in range(20):
            results.extend(pool.take(2))

    pool.refill()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.wait(5)
    assert len(results) == 160 and len(set(results)) == 160
    assert set(results) & set(dengage_ids.issued_keys)  # the pool was used


def test_local_source_never_calls_dengage(browser, fake_server, settings):
    settings.DENGAGE_ID_SOURCE = "local"
    browser.get("/")
    assert fake_server.requests == []


def test_missing_configuration_falls_back_to_local(settings):
    settings.DENGAGE_ID_SOURCE = "dengage"
    settings.DENGAGE_DATA_CENTER_URL = ""
    pool = ids.KeyPool()
    taken = pool.take(2)
    assert all(len(value) == 32 for value in taken)
    assert pool.failures == 1
