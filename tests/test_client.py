"""DengageClient: answer classification over real HTTP, headers, redaction."""

import logging

import pytest
import requests

from dengage_django import __version__
from dengage_django.delivery.answers import Outcome, classify, parse_retry_after
from dengage_django.delivery.client import DengageClient
from dengage_django.delivery.redaction import redact
from dengage_django.exceptions import DengageAPIError, DengageConfigurationError

KEY = "11111111-2222-3333-4444-555555555555"
EVENT = b'[{"name":"PAGE_VIEW","userId":"u","sessionId":"s"}]'


@pytest.fixture
def client(fake_server):
    client = DengageClient.from_settings()
    yield client
    client.close()


def test_success_and_headers(client, fake_server):
    answer = client.send(EVENT)
    assert answer.outcome is Outcome.SUCCESS and answer.ok
    request = fake_server.requests[-1]
    assert request.path == "/add/events/v1.json"
    assert request.query["apiKey"] == KEY
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["origin"] == "https://shop.example.com"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith(f"dengage-django/{__version__} ")
    assert fake_server.events == [{"name": "PAGE_VIEW", "userId": "u", "sessionId": "s"}]


def test_one_connection_is_reused(client, fake_server):
    client.send(EVENT)
    client.send(EVENT)
    pool = client.session.get_adapter(client.base_url).poolmanager
    assert len(pool.pools) == 1
    assert len(fake_server.events) == 2


@pytest.mark.parametrize(
    "code",
    ["NO_ACCOUNT", "UNVERIFIED_ACCOUNT", "FAILED_ACCOUNT", "NO_DOMAIN_APIKEY_MATCH", "NO_API_KEY"],
)
def test_configuration_status_codes(client, fake_server, code):
    fake_server.status_code_next(code)
    answer = client.send(EVENT)
    assert answer.outcome is Outcome.CONFIGURATION
    assert answer.status_code == code and answer.http_status == 200


@pytest.mark.parametrize("code", ["NO_USERID", "NO_SESSIONID", "BAD_INPUT", "NO_EVENT"])
def test_bad_event_status_codes(client, fake_server, code):
    fake_server.status_code_next(code)
    assert client.send(EVENT).outcome is Outcome.BAD_EVENT


def test_real_checks_of_the_fake_server_classify(client, fake_server):
    fake_server.set_origin("https://other.example.com")
    assert client.send(EVENT).status_code == "NO_DOMAIN_APIKEY_MATCH"
    fake_server.set_origin("https://shop.example.com")
    assert client.send(b'[{"name":"PAGE_VIEW","sessionId":"s"}]').outcome is Outcome.BAD_EVENT
    fake_server.set_api_key("another-key")
    assert client.send(EVENT).outcome is Outcome.CONFIGURATION


@pytest.mark.parametrize(
    "status, outcome",
    [
        (401, Outcome.CONFIGURATION),
        (403, Outcome.CONFIGURATION),
        (404, Outcome.CONFIGURATION),
        (400, Outcome.BAD_EVENT),
        (413, Outcome.BAD_EVENT),
        (408, Outcome.TRANSIENT),
        (429, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (502, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
    ],
)
def test_http_statuses(client, fake_server, status, outcome):
    fake_server.fail_next(status=status)
    answer = client.send(EVENT)
    assert answer.outcome is outcome
    assert answer.http_status == status
    assert fake_server.events == []


def test_retry_after_is_read(client, fake_server):
    fake_server.fail_next(status=429, retry_after=7)
    assert client.send(EVENT).retry_after == 7.0


def test_timeout_and_dropped_connection_are_transient(fake_server, settings):
    settings.DENGAGE_TIMEOUT = 0.2
    client = DengageClient.from_settings()
    fake_server.delay_next(1.0)
    answer = client.send(EVENT)
    assert answer.outcome is Outcome.TRANSIENT and "timed out" in answer.reason
    fake_server.drop_next()
    assert client.send(EVENT).outcome is Outcome.TRANSIENT


def test_connection_refused_is_transient_and_redacted(settings):
    settings.DENGAGE_DATA_CENTER_URL = "http://127.0.0.1:9"
    answer = DengageClient.from_settings().send(EVENT)
    assert answer.outcome is Outcome.TRANSIENT
    assert "ConnectionError" in answer.reason
    assert KEY not in answer.reason
    assert "apiKey=[REDACTED]" in answer.reason


def test_unknown_and_malformed_answers():
    # An unknown statusCode stops and keeps the events (tests/test_wire_hardening.py).
    assert classify(200, b'{"statusCode":"SOMETHING_NEW"}').outcome is Outcome.CONFIGURATION
    assert classify(200, b"<html>").outcome is Outcome.TRANSIENT
    assert classify(200, b"[]").outcome is Outcome.TRANSIENT
    assert classify(200, b'{"statusCode":"SUCCESS"}').outcome is Outcome.SUCCESS
    assert classify(200, b'{"responses":[[]]}').outcome is Outcome.SUCCESS


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("junk") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("99999999") == 24 * 3600.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_missing_settings_are_named(settings):
    settings.DENGAGE_API_KEY = ""
    settings.DENGAGE_ORIGIN = ""
    with pytest.raises(DengageConfigurationError, match="DENGAGE_API_KEY, DENGAGE_ORIGIN not set"):
        DengageClient.from_settings()


def test_get_keys(client, fake_server):
    keys = client.get_keys(2)
    assert len(keys) == 2 and len(set(keys)) == 2
    assert keys == fake_server.issued_keys
    with pytest.raises(ValueError):
        client.get_keys(0)


def test_get_keys_failures_raise_api_error(client, fake_server):
    fake_server.fail_next(status=503, endpoint="keys")
    with pytest.raises(DengageAPIError, match="HTTP 503") as info:
        client.get_keys(1)
    assert info.value.status == 503
    fake_server.fail_next(status=200, body=b'{"not": "a list"}', endpoint="keys")
    with pytest.raises(DengageAPIError):
        client.get_keys(1)


def test_key_never_reaches_urllib3_debug_log(client, fake_server, caplog):
    with caplog.at_level(logging.DEBUG):
        client.send(EVENT)
    lines = "\n".join(record.getMessage() for record in caplog.records)
    assert "/add/events/v1.json" in lines  # urllib3 did log the request line
    assert KEY not in lines
    assert "apiKey=[REDACTED]" in lines


def test_key_never_in_exception_text_from_requests(settings):
    settings.DENGAGE_DATA_CENTER_URL = "http://127.0.0.1:9"
    with pytest.raises(requests.ConnectionError) as info:
        requests.post("http://127.0.0.1:9/add/events/v1.json", params={"apiKey": KEY}, timeout=1)
    assert KEY in str(info.value)  # requests itself leaks it ...
    assert KEY not in redact(str(info.value))  # ... which is why we redact


def test_redact_masks_the_configured_key_anywhere(settings):
    settings.DENGAGE_API_KEY = "s3cr3t"
    assert redact("key s3cr3t in text") == "key [REDACTED] in text"
    assert redact("/x?apiKey=abc&b=1") == "/x?apiKey=[REDACTED]&b=1"
    assert "s3cr3t" not in repr(DengageClient.from_settings())


@pytest.fixture
def no_proxy_environment(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def closed_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_environments_proxy_is_used_as_requests_would(no_proxy_environment, fake_server):
    no_proxy_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    client = DengageClient.from_settings()
    answer = client.send(EVENT)
    assert answer.outcome is Outcome.TRANSIENT and "ProxyError" in answer.reason
    assert fake_server.events == []
    # NO_PROXY naming the data center's host: straight there.
    no_proxy_environment.setenv("NO_PROXY", "127.0.0.1")
    assert DengageClient.from_settings().send(EVENT).ok
    assert len(fake_server.events) == 1


def test_the_environment_is_read_when_the_client_is_made(no_proxy_environment, fake_server):
    # Not again for every request (about a millisecond of a live call's deadline).
    client = DengageClient.from_settings()
    no_proxy_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    assert client.send(EVENT).ok
    assert not DengageClient.from_settings().send(EVENT).ok


def test_a_data_center_url_that_cannot_be_parsed_is_a_configuration_answer():
    # The system check (E004) reports it, but servers run no checks: the
    # client must not raise, pages must not break.
    client = DengageClient(api_key=KEY, data_center_url="https://[bad", origin="https://s.example")
    answer = client.send(EVENT)
    assert answer.outcome is Outcome.CONFIGURATION
    assert "DENGAGE_DATA_CENTER_URL cannot be parsed" in answer.reason
