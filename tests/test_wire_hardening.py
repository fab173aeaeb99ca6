"""Issue 12, the wire: strange answers, redirects, IDN origins, the key header.

Each test runs against a real :class:`~dengage_django.testing.FakeDengageServer`
over HTTP where the wire matters.
"""

import logging

import pytest

import dengage_django
from dengage_django.delivery.answers import Outcome, classify, describe_configuration
from dengage_django.delivery.client import DengageClient
from dengage_django.delivery.sender import Sender
from dengage_django.exceptions import DengageAPIError
from dengage_django.models import OutboxEvent

Status = OutboxEvent.Status
KEY = "11111111-2222-3333-4444-555555555555"
EVENT = b'{"name":"PAGE_VIEW","userId":"u","sessionId":"s"}'
IDN_ORIGIN = "https://mağaza.example.com.tr"
PUNYCODE_ORIGIN = "https://xn--maaza-l1a.example.com.tr"


def body(n):
    return b"[" + b",".join([EVENT] * n) + b"]"


def record(n):
    for i in range(n):
        dengage_django.track("PRODUCT_VIEW", userId=f"u{i}", sessionId="s", productId=f"P{i}")


def header(request, name):
    return next((v for k, v in request.headers.items() if k.lower() == name.lower()), None)


def all_log_text(caplog):
    return "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)


@pytest.fixture
def client(fake_server):
    client = DengageClient.from_settings()
    yield client
    client.close()


# 1. An unknown statusCode stops and keeps the events.


@pytest.mark.parametrize("code", ["SOMETHING_NEW", "success", "", "QUOTA_EXCEEDED"])
def test_unknown_status_code_is_a_configuration_stop(code):
    answer = classify(200, b'{"statusCode":"%s"}' % code.encode())
    assert answer.outcome is Outcome.CONFIGURATION
    assert answer.reason == (
        f"unknown statusCode {code!r}: Dengage's API may have changed; events kept"
    )
    assert describe_configuration(answer) == answer.reason


def test_success_is_status_code_absent_or_success_only():
    for text in (b'{"statusCode":"SUCCESS"}', b"{}", b'{"statusCode":null}'):
        assert classify(200, text).outcome is Outcome.SUCCESS
    for text in (b'{"statusCode":""}', b'{"statusCode":0}', b'{"statusCode":"Success"}'):
        assert classify(200, text).outcome is Outcome.CONFIGURATION


def test_unknown_status_code_text_is_sanitised():
    answer = classify(200, b'{"statusCode":"A\\nB<script>' + b"x" * 100 + b'"}')
    assert "\n" not in answer.reason and "<" not in answer.reason
    assert len(answer.status_code) <= 64


@pytest.mark.django_db
def test_sender_stops_on_unknown_status_code_and_burns_no_attempt(fake_server):
    record(5)
    fake_server.status_code_next("SOMETHING_NEW")
    report = Sender().drain()
    assert report.requests == 1 and report.sent == 0 and report.retrying == 0
    assert "unknown statusCode 'SOMETHING_NEW'" in report.configuration_error
    rows = OutboxEvent.objects.all()
    assert {(row.status, row.attempts) for row in rows} == {(Status.PENDING, 0)}
    assert Sender().drain().sent == 5


# 2. Redirects are never followed.


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_a_configuration_error_and_not_followed(client, fake_server, status):
    fake_server.redirect_next(status=status)
    answer = client.send(body(1))
    assert answer.outcome is Outcome.CONFIGURATION
    assert answer.http_status == status
    assert "check DENGAGE_DATA_CENTER_URL" in answer.reason
    assert len(fake_server.requests) == 1  # nothing followed
    assert fake_server.events == []


def test_redirect_reason_names_the_location_without_its_query(client, fake_server):
    fake_server.redirect_next(location=f"https://user:pw@dce9.example.com/x?apiKey={KEY}&a=1#f")
    answer = client.send(body(1))
    assert answer.reason == (
        "HTTP 308 redirect to https://dce9.example.com/x: check DENGAGE_DATA_CENTER_URL"
    )
    assert describe_configuration(answer) == answer.reason
    # The key in the path is masked too, whatever characters it holds.
    fake_server.redirect_next(location=f"https://dce9.example.com/{KEY}/")
    assert client.send(body(1)).reason == (
        "HTTP 308 redirect to https://dce9.example.com/[REDACTED]/: check DENGAGE_DATA_CENTER_URL"
    )


def test_classify_redirect_without_location():
    answer = classify(302, b"")
    assert answer.outcome is Outcome.CONFIGURATION
    assert answer.reason == "HTTP 302 redirect: check DENGAGE_DATA_CENTER_URL"


@pytest.mark.django_db
def test_sender_stops_on_redirect_and_keeps_the_events(fake_server):
    record(3)
    fake_server.redirect_next()
    report = Sender().drain()
    assert "DENGAGE_DATA_CENTER_URL" in report.configuration_error
    assert KEY not in report.configuration_error
    assert {(r.status, r.attempts) for r in OutboxEvent.objects.all()} == {(Status.PENDING, 0)}
    assert fake_server.events == []


def test_get_keys_does_not_follow_redirects(client, fake_server):
    fake_server.redirect_next(endpoint="keys")
    with pytest.raises(DengageAPIError, match="HTTP 308"):
        client.get_keys(2)
    assert fake_server.issued_keys == []


# 3. responses/campaigns without one entry per event.


def test_short_responses_are_logged_with_the_counts(client, fake_server, caplog):
    fake_server.short_responses_next(missing=2)
    with caplog.at_level(logging.WARNING, logger="dengage_django.delivery.client"):
        answer = client.send(body(3))
    assert answer.outcome is Outcome.SUCCESS
    assert answer.mismatch == "3 events sent, but 1 responses and 1 campaigns answered"
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "3 events sent, but 1 responses and 1 campaigns answered" in warning.getMessage()
    assert len(fake_server.events) == 3


@pytest.mark.django_db
def test_short_responses_are_counted_by_the_sender_and_dengage_status(fake_server):
    import json
    from io import StringIO

    from django.core.management import call_command

    record(5)
    fake_server.short_responses_next(missing=1)  # the first of two requests
    report = Sender(batch_size=3).drain()
    assert (report.sent, report.mismatched) == (5, 3)
    noted = OutboxEvent.objects.filter(status=Status.SENT).exclude(last_error="")
    assert noted.count() == 3
    assert set(noted.values_list("last_error", flat=True)) == {
        "answer mismatch: 3 events sent, but 2 responses and 2 campaigns answered"
    }
    out = StringIO()
    call_command("dengage_status", stdout=out)
    assert "sent with an answer not matching the events (24 h): 3" in out.getvalue()
    out = StringIO()
    call_command("dengage_status", "--json", stdout=out)
    assert json.loads(out.getvalue())["mismatched_24h"] == 3


@pytest.mark.django_db
def test_the_command_summary_counts_mismatched_answers(fake_server):
    from io import StringIO

    from django.core.management import call_command

    record(2)
    fake_server.short_responses_next(missing=1)
    out = StringIO()
    call_command("send_dengage_outbox", "--no-progress", stdout=out)
    assert "; 2 sent with an answer not matching the events" in out.getvalue()


def test_matching_responses_log_nothing(client, fake_server, caplog):
    with caplog.at_level(logging.WARNING):
        answer = client.send(body(3))
    assert answer.ok and answer.mismatch is None
    assert caplog.records == []


def test_send_takes_the_event_count_when_given(client, fake_server):
    assert client.send(body(1), count=2).mismatch == (
        "2 events sent, but 1 responses and 1 campaigns answered"
    )


@pytest.mark.parametrize(
    "text, count, mismatch",
    [
        (b'{"responses":[[]],"campaigns":[[]]}', 1, None),
        (b'{"responses":[[]],"campaigns":[[]]}', None, None),
        (b'{"statusCode":"SUCCESS"}', 2, None),  # no lists at all: nothing to compare
        (b'{"responses":[[],[]],"campaigns":[]}', 2, "2 events sent, but 0 campaigns answered"),
        (b'{"responses":{},"campaigns":[[]]}', 1, "1 event sent, but responses is not a list"),
    ],
)
def test_classify_compares_the_lists_with_the_count(text, count, mismatch):
    answer = classify(200, text, count=count)
    assert answer.ok
    assert answer.mismatch == mismatch


# 4. NO_USERID / NO_SESSIONID name the missing id.


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code, text", [("NO_USERID", "has no userId"), ("NO_SESSIONID", "has no sessionId")]
)
def test_dead_reason_names_the_missing_id(fake_server, code, text):
    record(4)
    fake_server.reject_events(lambda event: event["productId"] == "P2", status_code=code)
    report = Sender().drain()
    assert (report.sent, report.dead) == (3, 1)
    dead = OutboxEvent.objects.get(status=Status.DEAD)
    assert dead.last_error == f"rejected: Dengage answered {code}: the event {text}"


def test_bad_event_reason_for_a_batch_says_an_event():
    answer = classify(200, b'{"statusCode":"NO_SESSIONID"}', count=5)
    expected = "Dengage answered NO_SESSIONID: an event of the request has no sessionId"
    assert answer.reason == expected
    assert classify(200, b'{"statusCode":"BAD_INPUT"}').reason == "Dengage answered BAD_INPUT"


# 5. IDN origins, and no exception ever leaves send().


def test_idn_origin_travels_in_punycode(settings, fake_server):
    settings.DENGAGE_ORIGIN = IDN_ORIGIN
    fake_server.set_origin(IDN_ORIGIN)
    client = DengageClient.from_settings()
    answer = client.send(body(1))
    assert answer.ok, answer.reason
    assert header(fake_server.requests[-1], "Origin") == PUNYCODE_ORIGIN
    assert "mağaza" in repr(client)  # the operator's spelling stays in messages


def test_idn_origin_with_port_and_upper_case(settings, fake_server):
    settings.DENGAGE_ORIGIN = "HTTPS://MAĞAZA.Example.com.tr:8443"
    fake_server.set_origin(PUNYCODE_ORIGIN + ":8443")
    answer = DengageClient.from_settings().send(body(1))
    assert answer.ok, answer.reason
    assert header(fake_server.requests[-1], "Origin") == (
        "https://xn--maaza-l1a.example.com.tr:8443"
    )


@pytest.mark.django_db
def test_sender_with_an_idn_origin_sends_instead_of_crashing(settings, fake_server):
    settings.DENGAGE_ORIGIN = IDN_ORIGIN
    fake_server.set_origin(PUNYCODE_ORIGIN)
    record(2)
    assert Sender().drain().sent == 2
    assert len(fake_server.events) == 2


@pytest.mark.parametrize(
    "origin",
    [
        "https://a..ğ.example.com",
        "https://" + "ğ" * 70 + ".com",
        "https://ğ.com/yol/ş",
        "https://shop.example.com\n",
    ],
)
def test_an_origin_that_cannot_be_a_header_is_a_configuration_answer(settings, fake_server, origin):
    settings.DENGAGE_ORIGIN = origin
    answer = DengageClient.from_settings().send(body(1))
    assert answer.outcome is Outcome.CONFIGURATION
    assert "DENGAGE_ORIGIN" in answer.reason
    assert "DENGAGE_ORIGIN" in describe_configuration(answer)
    assert fake_server.requests == []


@pytest.mark.parametrize("key", ["anahtar-ğ", "key\nX-Evil: 1"])
def test_a_key_that_cannot_be_a_header_is_a_configuration_answer(settings, fake_server, key):
    settings.DENGAGE_API_KEY = key
    answer = DengageClient.from_settings().send(body(1))
    assert answer.outcome is Outcome.CONFIGURATION
    assert "DENGAGE_API_KEY" in answer.reason and key not in answer.reason
    assert fake_server.requests == []


def test_data_center_url_without_scheme_is_a_configuration_answer(settings):
    settings.DENGAGE_DATA_CENTER_URL = "dce1.segmentify.com"
    answer = DengageClient.from_settings().send(body(1))
    assert answer.outcome is Outcome.CONFIGURATION
    assert "DENGAGE_DATA_CENTER_URL" in answer.reason
    assert KEY not in answer.reason


def test_unexpected_exception_is_a_transient_answer_logged_redacted(client, caplog, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError(f"boom at /add/events/v1.json?apiKey={KEY} with {KEY}")

    monkeypatch.setattr(client.session, "post", explode)
    with caplog.at_level(logging.ERROR, logger="dengage_django.delivery.client"):
        answer = client.send(body(1))
    assert answer.outcome is Outcome.TRANSIENT
    assert answer.reason.startswith("unexpected error: RuntimeError: boom")
    assert KEY not in answer.reason
    text = all_log_text(caplog)
    assert "Traceback" in text and "explode" in text  # the traceback is there ...
    assert KEY not in text  # ... redacted
    assert all(record.exc_info is None for record in caplog.records)


def test_unexpected_exception_while_classifying_is_transient(client, monkeypatch):
    from dengage_django.delivery import client as client_module

    def broken(*args, **kwargs):
        raise UnicodeEncodeError("latin-1", "ğ", 0, 1, "ordinal not in range(256)")

    monkeypatch.setattr(client_module, "classify", broken)
    assert client.send(body(1)).outcome is Outcome.TRANSIENT


# 6. The key in X-Sfy-Api-Key as well as in the query.


def test_key_travels_in_the_query_and_the_header(client, fake_server, caplog):
    import http.client

    with caplog.at_level(logging.DEBUG):
        assert client.send(body(1)).ok
        fake_server.fail_next(status=500)
        client.send(body(1))
        client.get_keys(1)
    request = fake_server.requests[0]
    assert request.query["apiKey"] == KEY
    assert header(request, "X-Sfy-Api-Key") == KEY
    # /get/key needs no key: it gets none, and the session holds none.
    assert header(fake_server.requests[-1], "X-Sfy-Api-Key") is None
    assert KEY not in str(client.session.headers)
    # Nothing logs the header: urllib3 and requests log no headers, and the
    # only path that prints them (http.client's debuglevel) is off.
    assert http.client.HTTPConnection.debuglevel == 0
    assert KEY not in all_log_text(caplog)
