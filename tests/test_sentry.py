"""The API key never reaches Sentry. These tests use the real sentry-sdk and
its default integrations, with a transport that keeps each envelope's bytes
(nothing goes over the network), and make real HTTP calls to a fake data
center.

Each scenario is run three ways: with the three callbacks, with
``install()`` and no callback, and with neither. The last is the control: it
shows the key does leak, so the scrubbed runs can fail.
"""

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from dengage_django.delivery.client import DengageClient
from dengage_django.integrations import sentry as dengage_sentry

sentry_sdk = pytest.importorskip("sentry_sdk")

DSN = "https://public@127.0.0.1/1"
CALLBACKS = {
    "before_send": dengage_sentry.before_send,
    "before_send_transaction": dengage_sentry.before_send_transaction,
    "before_breadcrumb": dengage_sentry.before_breadcrumb,
}
MODES = ["callbacks", "install", "none"]


class CapturingTransport(sentry_sdk.Transport):
    """Keeps every envelope sentry-sdk would send, as the bytes it would send."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []  # (item types, serialized envelope)

    def capture_envelope(self, envelope):
        self.envelopes.append((tuple(item.type for item in envelope), envelope.serialize()))

    def of_type(self, item_type):
        return [raw for types, raw in self.envelopes if item_type in types]

    def leaking(self, secret):
        return [raw for _, raw in self.envelopes if secret.encode() in raw]


@pytest.fixture
def sentry():
    """``start(mode, **options)`` initialises sentry-sdk (default integrations,
    a capturing transport) and returns the transport. ``mode`` is
    ``"callbacks"``, ``"install"`` or ``"none"``. Afterwards the client is
    closed, the breadcrumbs are gone and automatic scrubbing is as it was."""
    was_installed = dengage_sentry.uninstall()

    def start(mode, **options):
        assert mode in MODES
        if mode == "install":
            dengage_sentry.install()
        else:
            dengage_sentry.uninstall()
        transport = CapturingTransport()
        sentry_sdk.init(
            dsn=DSN,
            transport=transport,
            default_integrations=True,
            auto_enabling_integrations=False,  # no Django patching for the other tests
            **(CALLBACKS if mode == "callbacks" else {}),
            **options,
        )
        return transport

    with sentry_sdk.isolation_scope() as isolation, sentry_sdk.new_scope() as current:
        isolation.clear_breadcrumbs()
        current.clear_breadcrumbs()
        try:
            yield start
        finally:
            sentry_sdk.get_client().close()
            sentry_sdk.get_global_scope().set_client(None)
            if was_installed:
                dengage_sentry.install()
            else:
                dengage_sentry.uninstall()


@pytest.fixture
def key(settings):
    return settings.DENGAGE_API_KEY


def talk_to_dengage_then_fail():
    """What a shop does: events sent and ids fetched (in a transaction, sent
    when tracing is on), then an error of its own, reported."""
    client = DengageClient.from_settings()
    try:
        with sentry_sdk.start_transaction(op="task", name="send_dengage_outbox"):
            client.send(b"[]")
            client.get_keys(3)
    finally:
        client.close()
    try:
        raise RuntimeError("the shop's own failure")
    except RuntimeError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()


@pytest.mark.parametrize("tracing", [None, 1.0], ids=["tracing-off", "tracing-on"])
@pytest.mark.parametrize("mode", MODES)
def test_an_outgoing_requests_key_reaches_no_envelope(fake_server, sentry, key, mode, tracing):
    transport = sentry(mode, traces_sample_rate=tracing)

    talk_to_dengage_then_fail()

    assert len(fake_server.requests) == 2  # real calls carrying the key were made
    (error,) = transport.of_type("event")
    transactions = transport.of_type("transaction")
    assert len(transactions) == (1 if tracing else 0)
    if mode == "none":  # the control: sentry-sdk's defaults leak it
        assert key.encode() in error  # the httplib breadcrumb's http.query
        assert all(key.encode() in transaction for transaction in transactions)  # span data
        return
    assert transport.leaking(key) == []
    # The breadcrumb is kept, its query masked; the span data too.
    assert b'"url":"http://127.0.0.1:' in error and b"/add/events/v1.json" in error
    assert b'"http.query":"apiKey=[REDACTED]"' in error
    for transaction in transactions:
        assert b'"op":"http.client"' in transaction
        assert b'"http.query":"apiKey=[REDACTED]"' in transaction


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_to_unreachable_dengage(secret):
    url = f"http://127.0.0.1:{closed_port()}/add/events/v1.json"
    headers = {"X-Sfy-Api-Key": secret, "Origin": "https://shop.example.com"}
    requests.post(url, params={"apiKey": secret}, headers=headers, data=b"[]", timeout=5)


@pytest.mark.parametrize("mode", MODES)
def test_an_exception_carrying_the_key(sentry, key, mode):
    """requests' message names the URL (query string included), and the
    frames' local variables hold the URL, the params and the headers."""
    transport = sentry(mode)
    try:
        post_to_unreachable_dengage(key)
    except requests.ConnectionError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()

    (error,) = transport.of_type("event")
    assert b"ConnectionError" in error and b"post_to_unreachable_dengage" in error
    if mode == "none":
        assert key.encode() in error
    else:
        assert transport.leaking(key) == []
        assert b"apiKey=[REDACTED]" in error  # the exception's value, scrubbed not dropped


@pytest.mark.parametrize("mode", MODES)
def test_messages_extras_contexts_tags_and_breadcrumbs(sentry, key, mode):
    other_key = "0ther-key-in-a-header-9f8e7d"  # not the configured key: masked by name
    url = f"https://dce1.segmentify.com/add/events/v1.json?apiKey={key}"
    extra = {"headers": {"X-Sfy-Api-Key": other_key}, "params": {"apiKey": key}}
    transport = sentry(mode)

    sentry_sdk.add_breadcrumb(category="shop", message=f"POST {url}", data={"url": url})
    sentry_sdk.set_extra("request", extra)
    sentry_sdk.set_context("dengage", {"url": url, "header": ("X-Sfy-Api-Key", other_key)})
    sentry_sdk.set_tag("dengage.url", url)
    sentry_sdk.capture_message(f"could not reach {url}")
    sentry_sdk.flush()

    (message,) = transport.of_type("event")
    assert b"could not reach https://dce1.segmentify.com" in message
    if mode == "none":
        assert key.encode() in message and other_key.encode() in message
    else:
        assert transport.leaking(key) == [] and transport.leaking(other_key) == []
    # The shop's own objects are never changed in place.
    assert extra == {"headers": {"X-Sfy-Api-Key": other_key}, "params": {"apiKey": key}}


@pytest.mark.parametrize("mode", MODES)
def test_sentry_debug_log_lines(fake_server, sentry, key, mode, caplog):
    """With ``debug=True`` sentry-sdk logs each outgoing URL it adds trace
    headers to: install() masks it; the callbacks cannot reach it."""
    caplog.set_level(logging.DEBUG, logger=dengage_sentry.SENTRY_LOGGER)
    sentry(mode, debug=True)

    client = DengageClient.from_settings()
    client.send(b"[]")
    client.close()

    lines = [r.getMessage() for r in caplog.records if "outgoing request" in r.getMessage()]
    assert lines
    if mode == "install":
        assert not any(key in line for line in lines)
        assert any("apiKey=[REDACTED]" in line for line in lines)
    else:
        assert any(key in line for line in lines)


def test_install_is_idempotent_and_uninstall_makes_it_inert(fake_server, sentry, key):
    from sentry_sdk.scope import global_event_processors

    assert dengage_sentry.install() is True
    assert dengage_sentry.install() is True
    assert global_event_processors.count(dengage_sentry._event_processor) == 1
    sentry_logger = logging.getLogger(dengage_sentry.SENTRY_LOGGER)
    assert sentry_logger.filters.count(dengage_sentry._log_filter) == 1

    assert dengage_sentry.uninstall() is True
    assert dengage_sentry.uninstall() is False
    assert dengage_sentry._log_filter not in sentry_logger.filters
    transport = sentry("none")
    talk_to_dengage_then_fail()
    assert transport.leaking(key)  # the processor stays registered, but inert


class ShowsTheKey:
    def __init__(self, secret):
        self.secret = secret

    def __repr__(self):
        return f"<Request /get/key?apiKey={self.secret}>"


class BrokenRepr:
    def __repr__(self):
        raise ValueError("no repr")


class UnreadableMapping(dict):
    def items(self):
        raise OSError("gone")


FUNCTIONS = [
    dengage_sentry.before_send,
    dengage_sentry.before_send_transaction,
    dengage_sentry.before_breadcrumb,
]


def dump(value):
    """``value`` as text, objects by their repr (as sentry-sdk would)."""

    def shown(obj):
        try:
            return repr(obj)
        except Exception:
            return "<broken repr>"

    return json.dumps(value, default=shown)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_odd_input(function, key):
    broken = BrokenRepr()
    event = {
        "message": f"GET /get/key?count=1&apiKey={key}",
        "data": {
            "url": None,
            "http.query": None,
            "http.fragment": 5,
            7: key.encode(),
            None: [None, 2.5, True, [[("X-Sfy-Api-Key", "h3ader-value-1")]]],
            key: "a key as a mapping key",
            "set": {f"apiKey={key}", 3},
            "object": ShowsTheKey(key),
            "broken": broken,
            "HTTP_X_SFY_API_KEY": "h3ader-value-2",
            "x_sfy_api_key": ["h3ader-value-3"],
            "empty": {"apiKey": "", "X-Sfy-Api-Key": None},
        },
        "spans": [{"description": f"POST /add/events/v1.json?apiKey={key}", "data": {}}],
        "request": {"data": "X-Sfy-Api-Key: h3ader-value-4", "query_string": "apiKey=v5&count=1"},
    }
    before = dump(event)

    result = function(event, {})

    text = dump(result)
    for secret in (key, "h3ader-value", "v5"):
        assert secret not in text
    assert dump(event) == before  # copied where changed, never changed in place
    data = result["data"]
    assert data["url"] is None and data["http.fragment"] == 5 and data["broken"] is broken
    assert data[None][:3] == [None, 2.5, True]
    assert data["empty"] == {"apiKey": "", "X-Sfy-Api-Key": None}
    assert result["request"]["query_string"] == "apiKey=[REDACTED]&count=1"
    assert data["object"].startswith("<Request /get/key?apiKey=[REDACTED]")  # its repr


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("value", [None, {}, [], "", 0, 1.5, "nothing to hide", {"a": [{"b": 1}]}])
def test_what_needs_nothing_comes_back_as_it_is(function, value):
    assert function(value, {}) is value


@pytest.mark.parametrize("function", FUNCTIONS)
def test_cycles_and_depth(function, key):
    cyclic = {"url": f"/get/key?apiKey={key}"}
    cyclic["self"] = cyclic
    deep = [f"apiKey={key}"]
    for _ in range(5000):
        deep = [deep]

    result = function({"cyclic": cyclic, "deep": deep}, {})

    assert result["cyclic"]["self"] == "<cyclic>"
    assert key not in dump(result["cyclic"]) and key not in str(result["deep"])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_what_cannot_be_scrubbed_is_dropped(function, key, caplog):
    event = {"extra": {"unreadable": UnreadableMapping(url=f"?apiKey={key}")}}

    assert function(event, {}) is None

    assert "could not be scrubbed" in caplog.text and key not in caplog.text


def test_works_without_django_settings_or_sentry_sdk():
    """Importable, and the callbacks work on the patterns alone, with neither
    configured settings nor sentry-sdk; install() says it did nothing."""
    code = (
        "import sys; sys.modules['sentry_sdk'] = None\n"
        "from dengage_django.integrations import sentry as s\n"
        "print(s.install())\n"
        "crumb = {'data': {'http.query': 'apiKey=abc123&count=1'},"
        " 'message': 'X-Sfy-Api-Key: def456'}\n"
        "print(s.before_breadcrumb(crumb, {}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DENGAGE_"))}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    installed, crumb = result.stdout.splitlines()
    assert installed == "False"
    assert "abc123" not in crumb and "def456" not in crumb and "count=1" in crumb


def test_the_app_installs_scrubbing_when_the_settings_set_up_sentry():
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    script = textwrap.dedent(
        """
        import sentry_sdk
        sentry_sdk.init(dsn=None)
        import django
        from django.conf import settings
        settings.configure(INSTALLED_APPS=["django.contrib.contenttypes",
                           "django.contrib.auth", "dengage_django"], USE_TZ=True)
        django.setup()
        from dengage_django.integrations import sentry
        print(sentry._active)
        """
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=60
    )
    assert result.stdout.strip() == "True", result.stderr
