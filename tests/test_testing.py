"""Tests of dengage_django.testing: the fake data center (over real HTTP) and capture_events()."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client, TestCase

import dengage_django
from dengage_django.conf import dengage_settings
from dengage_django.models import OutboxEvent
from dengage_django.testing import (
    BROWSER_USER_AGENT,
    DEFAULT_API_KEY,
    DEFAULT_ORIGIN,
    FakeDengageServer,
    browser_client,
    capture_events,
)
from dengage_django.tracking.device import is_bot

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {
    "Origin": DEFAULT_ORIGIN,
    "Content-Type": "application/json",
    "Accept": "application/json",
}


def make_event(name="PAGE_VIEW", **fields):
    """A minimal valid event."""
    return {"name": name, "userId": "u1", "sessionId": "s1", **fields}


@pytest.fixture
def server():
    with FakeDengageServer() as fake:
        yield fake


def post(server, events, *, api_key=DEFAULT_API_KEY, headers=None, timeout=5, data=None):
    """POST ``events`` (or raw ``data``) to the fake's events endpoint."""
    params = {} if api_key is None else {"apiKey": api_key}
    return requests.post(
        f"{server.url}/add/events/v1.json",
        params=params,
        json=events if data is None else None,
        data=data,
        headers=HEADERS if headers is None else headers,
        timeout=timeout,
    )


def get_keys(server, count=None, timeout=5):
    params = {} if count is None else {"count": count}
    return requests.get(f"{server.url}/get/key", params=params, timeout=timeout)


# Success and Dengage's checks.


def test_success_body_has_one_entry_per_event(server):
    response = post(server, [make_event(), make_event("PRODUCT_VIEW", productId="p1")])

    assert response.status_code == 200
    body = response.json()
    assert "statusCode" not in body
    assert isinstance(body["timestamp"], int)
    assert abs(body["timestamp"] - time.time() * 1000) < 60_000
    assert body["responses"] == [[], []]
    assert body["campaigns"] == [[], []]
    assert [e["name"] for e in server.events] == ["PAGE_VIEW", "PRODUCT_VIEW"]
    assert len(server.batches) == 1


def test_requests_are_recorded_with_query_headers_and_body(server):
    post(server, [make_event()])

    (record,) = server.requests
    assert record.method == "POST"
    assert record.path == "/add/events/v1.json"
    assert record.query == {"apiKey": DEFAULT_API_KEY}
    assert record.headers["Origin"] == DEFAULT_ORIGIN
    assert record.json() == [make_event()]
    assert (record.status, record.status_code) == (200, None)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"api_key": None}, "NO_API_KEY"),
        ({"api_key": ""}, "NO_API_KEY"),
        ({"api_key": "wrong"}, "NO_ACCOUNT"),
        ({"headers": {"Content-Type": "application/json"}}, "NO_DOMAIN_APIKEY_MATCH"),
        ({"headers": {**HEADERS, "Origin": "https://evil.example"}}, "NO_DOMAIN_APIKEY_MATCH"),
        ({"data": b"not json"}, "BAD_INPUT"),
        ({"data": b'{"name": "PAGE_VIEW"}'}, "BAD_INPUT"),
        ({"data": b"[1, 2]"}, "BAD_INPUT"),
        ({"data": b"[]"}, "NO_EVENT"),
        ({"data": b'[{"name": "X", "sessionId": "s"}]'}, "NO_USERID"),
        ({"data": b'[{"name": "X", "userId": "", "sessionId": "s"}]'}, "NO_USERID"),
        ({"data": b'[{"name": "X", "userId": "u"}]'}, "NO_SESSIONID"),
    ],
)
def test_errors_are_http_200_with_status_code(server, kwargs, expected):
    response = post(server, [make_event()], **kwargs)

    assert response.status_code == 200
    assert response.json() == {"timestamp": "", "responses": [], "statusCode": expected}
    assert server.events == []
    assert server.requests[0].status_code == expected


def test_checks_come_in_dengage_order(server):
    """A wrong key is reported before a wrong origin or a bad body."""
    response = post(server, None, api_key="wrong", headers={}, data=b"junk")

    assert response.json()["statusCode"] == "NO_ACCOUNT"


def test_one_bad_event_refuses_the_whole_batch(server):
    response = post(server, [make_event(), {"name": "X", "userId": "u"}])

    assert response.json()["statusCode"] == "NO_SESSIONID"
    assert server.events == []
    assert server.batches == []


def test_origin_none_accepts_any_origin():
    with FakeDengageServer(origin=None) as fake:
        assert post(fake, [make_event()], headers={}).json().get("statusCode") is None
        assert len(fake.events) == 1


def test_unknown_path_is_404(server):
    assert requests.get(f"{server.url}/nope", timeout=5).status_code == 404
    assert requests.get(f"{server.url}/add/events/v1.json", timeout=5).status_code == 404


# /get/key.


def test_get_key_defaults_to_one(server):
    keys = get_keys(server).json()

    assert len(keys) == 1
    assert re.fullmatch(r"-?\d+", keys[0])
    assert server.issued_keys == keys


def test_get_key_returns_count_unique_ids(server):
    first = get_keys(server, 500).json()
    second = get_keys(server, 500).json()

    assert len(first) == 500
    assert len(set(first + second)) == 1000
    assert all(re.fullmatch(r"-?\d+", key) for key in first)
    assert server.issued_keys == first + second


@pytest.mark.parametrize("count", ["x", "0", "-3", "1001", ""])
def test_get_key_bad_count_is_400(server, count):
    assert get_keys(server, count).status_code == 400
    assert server.issued_keys == []


# Queued faults.


def test_fail_next_answers_status_and_retry_after_then_recovers(server):
    server.fail_next(2, status=429, retry_after=7)

    first = post(server, [make_event()])
    second = post(server, [make_event()])
    third = post(server, [make_event()])

    assert [r.status_code for r in (first, second, third)] == [429, 429, 200]
    assert first.headers["Retry-After"] == "7"
    assert len(server.events) == 1
    assert [r.status for r in server.requests] == [429, 429, 200]


def test_fail_next_with_custom_body_and_no_retry_after(server):
    server.fail_next(status=503, body="down for maintenance")

    response = post(server, [make_event()])

    assert response.status_code == 503
    assert response.text == "down for maintenance"
    assert "Retry-After" not in response.headers


def test_faults_are_used_in_queue_order(server):
    server.fail_next(status=500)
    server.status_code_next("UNVERIFIED_ACCOUNT")

    assert post(server, [make_event()]).status_code == 500
    assert post(server, [make_event()]).json()["statusCode"] == "UNVERIFIED_ACCOUNT"
    assert post(server, [make_event()]).json()["responses"] == [[]]


def test_status_code_next(server):
    server.status_code_next("FAILED_ACCOUNT")

    response = post(server, [make_event()])

    assert response.status_code == 200
    assert response.json()["statusCode"] == "FAILED_ACCOUNT"
    assert server.events == []


def test_delay_next_times_out_the_client_but_records_the_events(server):
    server.delay_next(0.5)

    with pytest.raises(requests.Timeout):
        post(server, [make_event()], timeout=0.1)

    assert len(server.wait_for_events(1, timeout=2)) == 1


def test_drop_next_is_a_connection_error(server):
    server.drop_next()

    with pytest.raises(requests.ConnectionError):
        post(server, [make_event()])

    assert server.events == []
    assert server.requests[0].status is None
    assert post(server, [make_event()]).status_code == 200


def test_faults_can_target_the_keys_endpoint(server):
    server.fail_next(status=502, endpoint="keys")
    server.drop_next(endpoint="keys")

    assert post(server, [make_event()]).status_code == 200
    assert get_keys(server).status_code == 502
    with pytest.raises(requests.ConnectionError):
        get_keys(server)
    assert get_keys(server).status_code == 200


def test_unknown_endpoint_is_refused(server):
    with pytest.raises(ValueError):
        server.fail_next(endpoint="other")


# Rules.


def test_reject_events_refuses_matching_batches_until_cleared(server):
    server.reject_events(lambda event: event["name"] == "CHECKOUT", status_code="BAD_INPUT")

    refused = post(server, [make_event(), make_event("CHECKOUT")])
    accepted = post(server, [make_event()])

    assert refused.json()["statusCode"] == "BAD_INPUT"
    assert accepted.json()["responses"] == [[]]
    assert [e["name"] for e in server.events] == ["PAGE_VIEW"]

    server.clear_rules()
    assert post(server, [make_event("CHECKOUT")]).status_code == 200
    assert len(server.events) == 2


def test_reject_events_with_http_status(server):
    server.reject_events(lambda event: "bad" in event, status=422)

    assert post(server, [make_event(bad=True)]).status_code == 422
    assert server.events == []


def test_failure_rate_with_seed_gives_failures_and_successes(server):
    server.set_failure_rate(0.5, seed=42, statuses=(500, 429))

    statuses = [post(server, [make_event()]).status_code for _ in range(30)]

    assert statuses.count(200) == len(server.events)
    assert 0 < statuses.count(200) < 30
    assert set(statuses) - {200} <= {500, 429}
    assert set(statuses) - {200}

    server.set_failure_rate(0)
    assert all(post(server, [make_event()]).status_code == 200 for _ in range(5))


def test_failure_rate_429_carries_retry_after(server):
    server.set_failure_rate(1, seed=1, statuses=(429,), retry_after=3)

    response = post(server, [make_event()])

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


def test_failure_rate_can_drop_connections(server):
    server.set_failure_rate(1, statuses=(), include_drops=True)

    with pytest.raises(requests.ConnectionError):
        post(server, [make_event()])


def test_failure_rate_is_repeatable_with_a_seed(server):
    def run():
        server.set_failure_rate(0.5, seed=7)
        return [post(server, [make_event()]).status_code for _ in range(12)]

    assert run() == run()


def test_set_api_key_and_origin_at_runtime(server):
    server.set_origin("https://other.example.com")
    assert post(server, [make_event()]).json()["statusCode"] == "NO_DOMAIN_APIKEY_MATCH"

    server.set_origin(DEFAULT_ORIGIN)
    server.set_api_key("new-key")
    assert post(server, [make_event()]).json()["statusCode"] == "NO_ACCOUNT"
    assert post(server, [make_event()], api_key="new-key").json()["responses"] == [[]]
    assert len(server.events) == 1


def test_set_delay_slows_every_post(server):
    server.set_delay(0.2)

    started = time.monotonic()
    post(server, [make_event()])
    post(server, [make_event()])

    assert time.monotonic() - started >= 0.4
    assert len(server.events) == 2


# Faults of a data center that answers strangely (issue 12).


def test_reject_all_refuses_every_batch_until_cleared(server):
    server.reject_all()

    assert post(server, [make_event()]).json()["statusCode"] == "BAD_INPUT"
    assert post(server, [make_event("CHECKOUT")]).json()["statusCode"] == "BAD_INPUT"
    # Dengage's own checks still come first.
    assert post(server, [make_event()], api_key="wrong").json()["statusCode"] == "NO_ACCOUNT"
    assert server.events == []

    server.clear_rules()
    assert post(server, [make_event()]).json()["responses"] == [[]]
    assert len(server.events) == 1


def test_reject_all_with_an_http_status_or_another_code(server):
    server.reject_all(status=400)
    assert post(server, [make_event()]).status_code == 400

    server.clear_rules()
    server.reject_all(status_code="NO_USERID")
    assert post(server, [make_event()]).json()["statusCode"] == "NO_USERID"
    assert server.events == []


def test_redirect_next_points_at_the_same_request_by_default(server):
    server.redirect_next()
    url = f"{server.url}/add/events/v1.json"
    params = {"apiKey": DEFAULT_API_KEY}

    response = requests.post(
        url, params=params, json=[make_event()], headers=HEADERS, allow_redirects=False, timeout=5
    )

    assert response.status_code == 308
    assert response.headers["Location"] == f"{url}?apiKey={DEFAULT_API_KEY}"
    assert (server.requests[0].status, server.events) == (308, [])
    # A client that follows a 307/308 posts again, and the fake takes it.
    server.redirect_next(status=307)
    followed = requests.post(url, params=params, json=[make_event()], headers=HEADERS, timeout=5)
    assert followed.status_code == 200
    assert [r.status for r in server.requests[1:]] == [307, 200]
    assert len(server.events) == 1


def test_redirect_next_with_a_location_a_status_and_the_keys_endpoint(server):
    server.redirect_next(2, status=301, location="https://dce2.example.com/add/events/v1.json")
    server.redirect_next(status=302, location="https://elsewhere.example.com/", endpoint="keys")

    for _ in range(2):
        response = requests.post(
            f"{server.url}/add/events/v1.json",
            json=[make_event()],
            allow_redirects=False,
            timeout=5,
        )
        assert response.status_code == 301
        assert response.headers["Location"] == "https://dce2.example.com/add/events/v1.json"
    keys = requests.get(f"{server.url}/get/key", allow_redirects=False, timeout=5)
    assert (keys.status_code, keys.headers["Location"]) == (302, "https://elsewhere.example.com/")
    assert server.issued_keys == []
    with pytest.raises(ValueError):
        server.redirect_next(status=200)


def test_short_responses_next_answers_fewer_entries_than_events(server):
    server.short_responses_next()
    server.short_responses_next(missing=5)

    first = post(server, [make_event(), make_event(), make_event()]).json()
    second = post(server, [make_event(), make_event()]).json()
    third = post(server, [make_event(), make_event()]).json()

    assert (len(first["responses"]), len(first["campaigns"])) == (2, 2)
    assert (second["responses"], second["campaigns"]) == ([], [])
    assert "statusCode" not in second
    assert third["responses"] == [[], []]
    assert len(server.events) == 7  # the events were taken all the same
    with pytest.raises(ValueError):
        server.short_responses_next(missing=0)


def test_short_responses_next_leaves_error_answers_alone(server):
    server.short_responses_next()

    refused = post(server, [make_event()], api_key="wrong").json()
    assert (refused["statusCode"], refused["responses"]) == ("NO_ACCOUNT", [])
    # Like every queued fault, it was that request's: the next is whole.
    assert post(server, [make_event(), make_event()]).json()["responses"] == [[], []]


def test_origin_is_compared_in_its_punycode_form():
    with FakeDengageServer(origin="https://mağaza.example.com.tr") as fake:
        for sent in (
            "https://xn--maaza-l1a.example.com.tr",
            "https://XN--MAAZA-L1A.example.com.tr/",
        ):
            answer = post(fake, [make_event()], headers={**HEADERS, "Origin": sent})
            assert "statusCode" not in answer.json(), sent
        other = post(fake, [make_event()], headers={**HEADERS, "Origin": "https://magaza.com.tr"})
        assert other.json()["statusCode"] == "NO_DOMAIN_APIKEY_MATCH"
        assert fake.origin == "https://mağaza.example.com.tr"
        assert fake.settings_overrides()["DENGAGE_ORIGIN"] == "https://mağaza.example.com.tr"


# Records, reset, waiting.


def test_reset_clears_records_and_queued_faults(server):
    post(server, [make_event()])
    get_keys(server, 3)
    server.fail_next(status=500)

    server.reset()

    assert (server.events, server.batches, server.requests, server.issued_keys) == ([], [], [], [])
    assert post(server, [make_event()]).status_code == 200


def test_records_are_copies(server):
    post(server, [make_event()])

    server.events.clear()
    server.batches.clear()

    assert len(server.events) == 1
    assert len(server.batches) == 1


def test_wait_for_events_returns_when_enough_arrived(server):
    post(server, [make_event(), make_event()])

    assert len(server.wait_for_events(2, timeout=1)) == 2


def test_wait_for_events_times_out(server):
    post(server, [make_event()])

    with pytest.raises(TimeoutError):
        server.wait_for_events(2, timeout=0.1)


def test_keep_alive_session_serves_several_requests(server):
    with requests.Session() as session:
        url = f"{server.url}/add/events/v1.json?apiKey={DEFAULT_API_KEY}"
        first = session.post(url, json=[make_event()], headers=HEADERS, timeout=5)
        second = session.post(url, json=[make_event()], headers=HEADERS, timeout=5)

    assert first.headers["Content-Length"] == str(len(first.content))
    assert "close" not in first.headers.get("Connection", "").lower()
    assert first.status_code == second.status_code == 200
    assert len(server.batches) == 2


def test_fake_events_and_reset_endpoints(server):
    post(server, [make_event(), make_event("PRODUCT_VIEW")])

    listed = requests.get(f"{server.url}/_fake/events", timeout=5).json()
    assert [e["name"] for e in listed] == ["PAGE_VIEW", "PRODUCT_VIEW"]

    assert requests.post(f"{server.url}/_fake/reset", timeout=5).status_code == 200
    assert server.events == []


# Life cycle and configuration.


def test_url_port_and_settings_overrides(server):
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.port > 0
    assert server.settings_overrides() == {
        "DENGAGE_API_KEY": DEFAULT_API_KEY,
        "DENGAGE_DATA_CENTER_URL": server.url,
        "DENGAGE_ORIGIN": DEFAULT_ORIGIN,
    }


def test_settings_overrides_default_origin_when_any_accepted():
    with FakeDengageServer(api_key="k", origin=None) as fake:
        overrides = fake.settings_overrides()

    assert overrides["DENGAGE_API_KEY"] == "k"
    assert overrides["DENGAGE_ORIGIN"] == DEFAULT_ORIGIN


def test_override_settings_applies_to_django(server):
    from django.conf import settings

    with server.override_settings():
        assert settings.DENGAGE_DATA_CENTER_URL == server.url
        assert settings.DENGAGE_API_KEY == DEFAULT_API_KEY


def test_start_and_stop_are_idempotent():
    fake = FakeDengageServer()
    fake.start()
    port = fake.port
    fake.start()
    assert fake.port == port

    fake.stop()
    fake.stop()

    with pytest.raises(RuntimeError):
        _ = fake.url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/get/key", timeout=1)


def test_stop_ends_keep_alive_connections():
    fake = FakeDengageServer().start()
    with requests.Session() as session:
        assert session.get(f"{fake.url}/get/key", timeout=5).status_code == 200
        url = fake.url
        fake.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(f"{url}/get/key", timeout=1)


# Command line.


def test_command_line_prints_events_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "dengage_django.testing", "--port", "0", "--origin", "*"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        match = re.fullmatch(
            r"Fake Dengage data center on (http://127\.0\.0\.1:(\d+)) "
            r"\(apiKey=(\S+), origin=\*\)\n",
            banner,
        )
        assert match, banner
        url, _, api_key = match.groups()
        response = requests.post(
            f"{url}/add/events/v1.json",
            params={"apiKey": api_key},
            json=[make_event("PRODUCT_VIEW", productId="p42")],
            timeout=5,
        )
        assert response.status_code == 200
        line = process.stdout.readline()
        assert line.startswith("PRODUCT_VIEW ")
        assert "userId=u1" in line and "productId=p42" in line

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


# The package: names importable from dengage_django.testing.


def test_package_exports_the_server_the_cli_and_the_capture_helpers():
    import dengage_django.testing as testing
    from dengage_django.testing import __main__ as cli
    from dengage_django.testing import capture, server

    assert testing.FakeDengageServer is server.FakeDengageServer
    assert testing.RecordedRequest is server.RecordedRequest
    assert (testing.EVENTS_PATH, testing.KEYS_PATH) == ("/add/events/v1.json", "/get/key")
    assert testing.main is cli.main and testing.PRINTED_FIELDS is cli.PRINTED_FIELDS
    for name in ("capture_events", "CapturedEvents", "InvalidEvent", "browser_client"):
        assert getattr(testing, name) is getattr(capture, name)
        assert name in testing.__all__ and name in dir(testing)
    assert testing.BROWSER_USER_AGENT == capture.BROWSER_USER_AGENT
    with pytest.raises(AttributeError):
        _ = testing.no_such_name


# capture_events() and browser_client().


def visit(path="/"):
    response = browser_client().get(path)
    assert response.status_code == 200
    return response


@pytest.mark.django_db
def test_capture_events_collects_the_wire_dicts_in_order():
    with capture_events() as captured:
        visit("/p/1/")

    assert captured.names() == ["PAGE_VIEW", "PRODUCT_VIEW"]
    assert len(captured) == 2 and list(captured) == captured.events
    page, product = captured.events
    assert page["name"] == "PAGE_VIEW" and page["category"] == "Product Page"
    assert captured.of("PRODUCT_VIEW") == [product]
    assert captured.one("PRODUCT_VIEW", productId="P1") is product
    # snake_case spellings of the wire names match too
    assert captured.one("PRODUCT_VIEW", product_id="P1", in_stock=True) is product
    assert captured.assert_recorded("PAGE_VIEW", sub_category="Men > Sports") is page
    captured.assert_not_recorded("PRODUCT_VIEW", productId="P2")
    captured.assert_not_recorded("BASKET_OPERATIONS")
    assert captured.invalid() == []
    assert repr(captured) == "<CapturedEvents: PAGE_VIEW, PRODUCT_VIEW>"


@pytest.mark.django_db
def test_only_events_stored_inside_the_block_are_captured():
    visit()
    with capture_events() as captured:
        dengage_django.track("PAGE_VIEW", userId="u1", sessionId="s1", category="Inside")
    visit()
    dengage_django.track("PAGE_VIEW", userId="u1", sessionId="s1", category="After")

    assert [event["category"] for event in captured] == ["Inside"]
    assert OutboxEvent.objects.count() == 4


@pytest.mark.django_db
def test_ids_are_local_inside_the_block_and_the_setting_restored_after(settings, fake_server):
    settings.DENGAGE_ID_SOURCE = "dengage"
    with capture_events() as captured:
        assert django_settings.DENGAGE_ID_SOURCE == "local"
        assert dengage_settings.ID_SOURCE == "local"
        visit()
    assert django_settings.DENGAGE_ID_SOURCE == "dengage"
    assert dengage_settings.ID_SOURCE == "dengage"

    assert captured.names() == ["PAGE_VIEW"]
    assert fake_server.requests == []  # no /get/key: the ids were made here


@pytest.mark.django_db
def test_one_fails_readably_when_nothing_or_several_match():
    with capture_events() as captured:
        with pytest.raises(AssertionError) as nothing:
            captured.one("PAGE_VIEW")
        visit("/p/1/")
        visit("/p/1/")

    assert str(nothing.value) == "expected one PAGE_VIEW event, found 0.\nNothing was recorded."

    with pytest.raises(AssertionError) as none:
        captured.one("PRODUCT_VIEW", productId="P9", colour="red")
    lines = str(none.value).splitlines()
    assert lines[0] == "expected one PRODUCT_VIEW event with productId='P9', colour='red', found 0."
    assert lines[1] == "Recorded (4):"
    assert lines[2].startswith("  1. PAGE_VIEW userId=")
    assert lines[3].startswith("  2. PRODUCT_VIEW (differs: productId='P1', no colour) userId=")
    assert len(lines) == 6

    with pytest.raises(AssertionError, match=r"^expected one PRODUCT_VIEW event, found 2\.\n"):
        captured.one("PRODUCT_VIEW")
    with pytest.raises(AssertionError, match=r"  2\. PRODUCT_VIEW \(matches\) "):
        captured.one("PRODUCT_VIEW", productId="P1")
    assert (
        captured.assert_recorded("PRODUCT_VIEW", productId="P1") is captured.of("PRODUCT_VIEW")[0]
    )
    with pytest.raises(AssertionError, match=r"^expected a PRODUCT_VIEW event with price=1, found"):
        captured.assert_recorded("PRODUCT_VIEW", price=1)
    with pytest.raises(AssertionError, match=r"^expected no PRODUCT_VIEW event, found 2\."):
        captured.assert_not_recorded("PRODUCT_VIEW")
    with pytest.raises(AssertionError, match="'PRODUCT_VEIW' is not an event name: PAGE_VIEW, "):
        captured.one("PRODUCT_VEIW")


@pytest.mark.django_db
def test_invalid_events_are_kept_apart_with_their_error(lenient):
    with capture_events() as captured:
        dengage_django.track("PRODUCT_VIEW", userId="u1", sessionId="s1")

    assert len(captured) == 0
    [invalid] = captured.invalid()
    assert invalid.name == "PRODUCT_VIEW"
    assert invalid.fields == {"userId": "u1", "sessionId": "s1"}
    assert "productId" in invalid.error
    with pytest.raises(AssertionError) as failure:
        captured.one("PRODUCT_VIEW")
    assert "Nothing was recorded.\nStored as invalid (1):\n  - PRODUCT_VIEW: " in str(failure.value)


@pytest.mark.django_db
def test_clear_and_nested_captures():
    with capture_events() as outer:
        visit()
        outer.clear()
        assert len(outer) == 0
        with capture_events() as inner:
            visit()
        visit()

    assert inner.names() == ["PAGE_VIEW"]
    assert outer.names() == ["PAGE_VIEW", "PAGE_VIEW"]


def test_browser_client_sends_a_browser_user_agent():
    assert "Chrome/" in BROWSER_USER_AGENT and not is_bot(BROWSER_USER_AGENT)
    assert browser_client().defaults["HTTP_USER_AGENT"] == BROWSER_USER_AGENT

    client = browser_client(headers={"accept-language": "tr"}, enforce_csrf_checks=True)
    assert client.defaults["HTTP_USER_AGENT"] == BROWSER_USER_AGENT
    assert client.defaults["HTTP_ACCEPT_LANGUAGE"] == "tr"
    assert client.handler.enforce_csrf_checks

    client = browser_client(headers={"User-Agent": "Mine/1.0"})
    assert client.defaults["HTTP_USER_AGENT"] == "Mine/1.0"
    assert browser_client(HTTP_USER_AGENT="Mine/2.0").defaults["HTTP_USER_AGENT"] == "Mine/2.0"


class CaptureInATestCase(TestCase):
    def test_product_view(self):
        with capture_events() as events:
            browser_client().get("/p/2/")
        product = events.one("PRODUCT_VIEW", productId="P2")
        self.assertEqual(product["price"], 24.5)

    def test_django_test_client_sends_no_user_agent_so_nothing_is_recorded(self):
        with capture_events() as events:
            Client().get("/")
        self.assertEqual(events.names(), [])
