"""Ids from /get/key: short answers, invalid ids, the pool size, back-off.

Unit tests give the pool a stub client (``ids._keys_client``); the end to
end ones go through the middleware to the fake data center and count its
/get/key requests.
"""

import logging
import re
import time

import pytest
import requests
from django.test import Client

from dengage_django.exceptions import DengageAPIError, DengageConfigurationError
from dengage_django.models import OutboxEvent
from dengage_django.tracking import ids

from .test_tracking import DESKTOP

LOCAL = re.compile(r"[0-9a-f]{32}")


class StubClient:
    """Answers ``get_keys`` from a list of answers (or exceptions), the last
    one repeated, and remembers each count asked."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked = []

    def get_keys(self, count, *, timeout=None):
        self.asked.append(count)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(count)
        return answer


def numbered(count, start=1):
    return [str(-(start + i)) for i in range(count)]


@pytest.fixture
def stub(monkeypatch, settings):
    """A pool whose /get/key answers come from a :class:`StubClient`."""
    settings.DENGAGE_ID_POOL_SIZE = 100
    settings.DENGAGE_ID_FETCH_BACKOFF = 60.0

    def make(*answers):
        client = StubClient(*answers)
        monkeypatch.setattr(ids, "_keys_client", lambda: client)
        return ids.KeyPool(), client

    return make


def filled(pool):
    """``pool`` after one synchronous refill (as the background thread does)."""
    assert pool.refill()
    return pool


def take_and_wait(pool, count):
    """A take, then the background refill it started (if any) finished."""
    taken = pool.take(count)
    pool.wait(5)
    return taken


# -- Never on the request's path -------------------------------------------------


def test_the_first_take_gets_local_ids_at_once_and_starts_a_refill(stub):
    pool, client = stub(lambda count: numbered(count))
    first = pool.take(2)
    assert all(LOCAL.fullmatch(value) for value in first)
    pool.wait(5)
    assert client.asked == [100]
    assert pool.take(2) == ["-1", "-2"]


def test_a_take_never_waits_for_a_slow_data_center(stub):
    import threading

    release = threading.Event()

    def slow(count):
        release.wait(10)
        return numbered(count)

    pool, client = stub(slow)
    started = time.monotonic()
    for _ in range(50):
        assert all(LOCAL.fullmatch(value) for value in pool.take(2))
    elapsed = time.monotonic() - started
    release.set()
    pool.wait(5)
    assert elapsed < 2.0  # the fetch would hold a take for 10 s
    assert client.asked == [100]  # one refill at a time
    assert pool.take(1) == ["-1"]


def test_the_pool_is_refilled_before_it_runs_dry(stub, settings):
    settings.DENGAGE_ID_POOL_SIZE = 10
    pool, client = stub(lambda count: numbered(count, start=len(client.asked) * 100 - 99))
    filled(pool)
    assert client.asked == [10]
    assert take_and_wait(pool, 4) == numbered(4)  # 6 left: above half
    assert client.asked == [10]
    assert take_and_wait(pool, 1) == ["-5"]  # 5 left: half, refilled
    assert client.asked == [10, 10]
    assert len(pool) == 15
    # Visitors keep coming: every id they get is one of Dengage's.
    for _ in range(20):
        assert not any(LOCAL.fullmatch(value) for value in take_and_wait(pool, 2))


def test_a_take_never_raises_when_no_thread_can_be_started(stub, monkeypatch, caplog):
    import threading

    pool, client = stub(lambda count: numbered(count))

    real_start = threading.Thread.start
    refused = []

    def refuse_once(self):
        if not refused:
            refused.append(self)
            raise RuntimeError("can't start new thread")
        return real_start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse_once)
    taken = pool.take(2)
    assert all(LOCAL.fullmatch(value) for value in taken)
    assert "could not start fetching ids in the background" in caplog.text
    take_and_wait(pool, 1)  # the next take tries again
    assert client.asked == [100]


def test_a_forked_child_forgets_the_parents_ids(stub, monkeypatch):
    import os

    pool, client = stub(lambda count: numbered(count))
    monkeypatch.setattr(ids, "_pool", filled(pool))
    assert len(pool) == 100
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, f"{len(ids.key_pool())} {ids.key_pool().take(1)[0]}".encode())
        finally:
            os._exit(0)
    os.close(write)
    report = os.read(read, 200).decode()
    os.waitpid(child, 0)
    held, first = report.split()
    assert held == "0" and LOCAL.fullmatch(first)  # never the parent's "-1"
    assert pool.take(1) == ["-1"]


# -- Answers of any length from 1 to N ------------------------------------------


def test_a_short_answer_is_used_as_it_is(stub):
    pool, client = stub(numbered(3), lambda count: numbered(count, start=100))
    assert take_and_wait(filled(pool), 2) == ["-1", "-2"]
    assert client.asked == [100, 100]  # one left: below half, refilled
    assert pool.take(2) == ["-3", "-100"]
    assert pool.failures == 0


def test_a_one_id_answer_serves_part_of_a_visitor(stub):
    pool, client = stub(["-7"], [])
    user_id, session_id = take_and_wait(filled(pool), 2)
    assert user_id == "-7" and LOCAL.fullmatch(session_id)
    assert pool.failures == 1  # the refill it started was answered []


def test_an_answer_longer_than_asked_is_cut(stub, settings):
    settings.DENGAGE_ID_POOL_SIZE = 4
    pool, client = stub(numbered(50))
    assert len(filled(pool)) == 4
    assert pool.take(4) == numbered(4)


def test_invalid_ids_are_dropped_and_the_rest_used(stub, caplog):
    pool, client = stub(["-1", "bad id", "<script>", "", "x" * 129, "-2", "-1"])
    assert filled(pool).take(2) == ["-1", "-2"]
    assert pool.failures == 0
    assert "/get/key answered 7 ids of which 5 were not usable" in caplog.text
    assert "<script>" not in caplog.text  # an answer's content is never logged


# -- The pool size ----------------------------------------------------------------


@pytest.mark.parametrize(
    "size, wanted, asked",
    [(7, 2, 7), (1, 2, 2), (1, 1, 1), (100, 1, 100), (5000, 2, 1000), (0, 2, 2)],
)
def test_the_pool_asks_for_its_size_within_the_clients_limit(stub, settings, size, wanted, asked):
    settings.DENGAGE_ID_POOL_SIZE = size
    pool, client = stub(lambda count: numbered(count))
    take_and_wait(pool, wanted)
    assert client.asked == [asked]


def test_a_pool_size_of_two_asks_as_the_vendors_clients_do(stub, settings):
    settings.DENGAGE_ID_POOL_SIZE = 2
    pool, client = stub(lambda count: numbered(count))
    take_and_wait(pool, 2)  # a new visitor: local ids, a refill of 2
    take_and_wait(pool, 1)  # a new session: one left, refilled
    assert client.asked == [2, 2]


# -- Every failure starts the back-off ---------------------------------------------

FAILURES = {
    "HTTP error": DengageAPIError("/get/key answered HTTP 503", status=503),
    "transport": DengageAPIError("/get/key failed: connection refused"),
    "configuration": DengageConfigurationError("DENGAGE_ORIGIN not set"),
    "timeout (unwrapped)": requests.Timeout("read timed out"),
    "any exception": RuntimeError("boom"),
    "bad count": ValueError("count must be an integer from 1 to 1000"),
    "empty list": [],
    "only invalid ids": ["bad id", "<b>", ""],
    "ints": [1, 2],
    "None": None,
    "a string": "-123",
    "a dict": {"keys": ["-1"]},
}


@pytest.mark.parametrize("answer", FAILURES.values(), ids=FAILURES.keys())
def test_every_kind_of_failure_starts_the_back_off(stub, answer, caplog):
    pool, client = stub(answer)
    for _ in range(20):
        taken = take_and_wait(pool, 2)
        assert all(LOCAL.fullmatch(value) for value in taken)
    assert client.asked == [100]  # one call, not one per visitor
    assert pool.fetches == 1 and pool.failures == 1
    assert "using local ids for 60.0s" in caplog.text


def test_fetching_resumes_after_the_back_off(stub, settings, monkeypatch):
    pool, client = stub([], lambda count: numbered(count))
    now = [1000.0]
    monkeypatch.setattr(ids.time, "monotonic", lambda: now[0])
    take_and_wait(pool, 2)
    now[0] += 59.0
    take_and_wait(pool, 2)
    assert client.asked == [100]
    now[0] += 1.0
    take_and_wait(pool, 2)  # local ids, and a refill
    assert client.asked == [100, 100]
    assert pool.take(2) == ["-1", "-2"]


def test_a_failure_message_never_shows_the_api_key(stub, settings, caplog):
    key = settings.DENGAGE_API_KEY
    pool, client = stub(RuntimeError(f"GET http://dc/get/key?apiKey={key} failed, key {key}"))
    take_and_wait(pool, 2)
    assert pool.failures == 1
    assert key not in caplog.text
    assert "RuntimeError" in caplog.text


# -- End to end, with the fake data center ------------------------------------------


@pytest.fixture
def dengage_ids(settings, fake_server, monkeypatch):
    """Ids from the fake data center's /get/key, with a fresh pool."""
    settings.DENGAGE_ID_SOURCE = "dengage"
    monkeypatch.setattr(ids, "_pool", ids.KeyPool())
    yield fake_server


def new_visitors(count):
    """``count`` new visitors in turn, each after the pool's background
    refill (if one was started) finished."""
    for _ in range(count):
        assert Client(headers={"user-agent": DESKTOP}).get("/").status_code == 200
        ids.key_pool().wait(5)


def page_ids():
    return [
        (e.payload["userId"], e.payload["sessionId"])
        for e in OutboxEvent.objects.filter(name="PAGE_VIEW").order_by("id")
    ]


def key_requests(server):
    return [r for r in server.requests if r.path == "/get/key"]


SERVER_FAULTS = {
    "HTTP 503": lambda server: server.fail_next(status=503, endpoint="keys"),
    "HTTP 429": lambda server: server.fail_next(status=429, retry_after=5, endpoint="keys"),
    "dropped connection": lambda server: server.drop_next(endpoint="keys"),
    "not JSON": lambda server: server.fail_next(status=200, body=b"<html>", endpoint="keys"),
    "not a list": lambda server: server.fail_next(
        status=200, body={"keys": ["-1", "-2"]}, endpoint="keys"
    ),
    "empty list": lambda server: server.fail_next(status=200, body=[], endpoint="keys"),
    "invalid ids": lambda server: server.fail_next(
        status=200, body=["not an id", "<script>"], endpoint="keys"
    ),
    "nulls": lambda server: server.fail_next(status=200, body=[None, None], endpoint="keys"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("fault", SERVER_FAULTS.values(), ids=SERVER_FAULTS.keys())
def test_after_any_failure_new_visitors_cost_no_fetch(dengage_ids, settings, fault, caplog):
    settings.DENGAGE_ID_POOL_SIZE = 2  # an answer of 2 ids has the asked length
    fault(dengage_ids)
    new_visitors(5)
    assert len(key_requests(dengage_ids)) == 1
    assert ids.key_pool().failures == 1
    visitors = page_ids()
    assert len(visitors) == 5
    assert all(LOCAL.fullmatch(value) for pair in visitors for value in pair)
    assert "using local ids" in caplog.text


@pytest.mark.django_db
def test_a_slow_data_center_starts_the_back_off(dengage_ids, settings):
    settings.DENGAGE_ID_FETCH_TIMEOUT = 0.1
    dengage_ids.delay_next(1.0, endpoint="keys")
    new_visitors(5)
    assert ids.key_pool().fetches == 1 and ids.key_pool().failures == 1
    assert all(LOCAL.fullmatch(user_id) for user_id, _ in page_ids())


@pytest.mark.django_db
def test_pages_use_the_pool_again_once_the_back_off_is_over(dengage_ids, settings):
    settings.DENGAGE_ID_FETCH_BACKOFF = 0
    dengage_ids.fail_next(status=503, endpoint="keys")
    new_visitors(3)
    issued = set(dengage_ids.issued_keys)
    # The first visitor's refill fails; the second's (no back-off) works.
    (first_user, _), (second_user, _), (third_user, _) = page_ids()
    assert LOCAL.fullmatch(first_user) and LOCAL.fullmatch(second_user)
    assert third_user in issued


@pytest.mark.django_db
def test_a_short_answer_from_the_data_center_is_used(dengage_ids, settings):
    settings.DENGAGE_ID_POOL_SIZE = 10
    short = ["-101", "-102", "-103"]
    dengage_ids.fail_next(status=200, body=short, endpoint="keys")
    new_visitors(3)  # the first has local ids and starts the refill
    used = [value for pair in page_ids()[1:] for value in pair]
    assert set(short) <= set(used)
    assert not any(LOCAL.fullmatch(value) for value in used)
    assert ids.key_pool().failures == 0
    # 3 ids, then 1 left (below half of 10): refilled.
    assert [r.query["count"] for r in key_requests(dengage_ids)] == ["10", "10"]


@pytest.mark.django_db
def test_a_returning_visitor_keeps_an_id_of_any_safe_shape(settings):
    browser = Client(headers={"user-agent": DESKTOP})
    browser.cookies["dengage_uid"] = "shop.visitor:4f1c2b1e-7d0a_42"
    browser.get("/")
    [(user_id, _)] = page_ids()
    assert user_id == "shop.visitor:4f1c2b1e-7d0a_42"


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", ['"1"', "a b", "x" * 129, "é1"])
def test_a_cookie_that_is_no_safe_id_is_replaced(settings, cookie):
    browser = Client(headers={"user-agent": DESKTOP})
    browser.cookies["dengage_uid"] = cookie
    response = browser.get("/")
    [(user_id, _)] = page_ids()
    assert user_id != cookie and LOCAL.fullmatch(user_id)
    assert response.cookies["dengage_uid"].value == user_id


def test_failures_are_logged_as_warnings(stub, caplog):
    pool, client = stub([])
    with caplog.at_level(logging.WARNING, logger="dengage_django.tracking.ids"):
        take_and_wait(pool, 1)
    [record] = [r for r in caplog.records if r.name == "dengage_django.tracking.ids"]
    assert record.levelno == logging.WARNING
    assert "answered no usable id (a list of 0)" in record.getMessage()
