"""What the sender tells an operator when Dengage refuses the configuration
(describe_configuration, end to end through the sender and the command),
and a Retry-After header that is not a real number."""

import pytest

import dengage_django
from dengage_django.delivery.answers import (
    Answer,
    Outcome,
    classify,
    describe_configuration,
    parse_retry_after,
)
from dengage_django.delivery.sender import Sender
from dengage_django.models import OutboxEvent


@pytest.mark.parametrize("status", [404, 405])
def test_no_endpoint_points_at_the_data_center_url(status):
    answer = classify(status, b"Not Found")
    assert answer.outcome is Outcome.CONFIGURATION
    assert describe_configuration(answer) == (
        f"HTTP {status}: check DENGAGE_DATA_CENTER_URL (no event endpoint there)"
    )


@pytest.mark.parametrize("status", [401, 403])
def test_unauthorised_points_at_the_key_or_origin(status):
    answer = classify(status, b"")
    assert describe_configuration(answer) == (
        f"HTTP {status}: Dengage refused the API key or origin"
    )


def test_a_status_code_hint_wins_over_the_http_status():
    answer = Answer(Outcome.CONFIGURATION, "Dengage answered NO_ACCOUNT", 403, "NO_ACCOUNT")
    assert describe_configuration(answer) == (
        "Dengage answered NO_ACCOUNT: DENGAGE_API_KEY belongs to no Dengage account"
    )


@pytest.mark.django_db
def test_a_wrong_data_center_path_stops_the_sender_and_names_the_setting(fake_server, settings):
    settings.DENGAGE_DATA_CENTER_URL = fake_server.url + "/not-dengage"
    dengage_django.track("PAGE_VIEW", userId="u", sessionId="s")
    report = Sender().drain()
    assert report.configuration_error == (
        "HTTP 404: check DENGAGE_DATA_CENTER_URL (no event endpoint there)"
    )
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("pending", 0)}


@pytest.mark.parametrize("value", ["nan", "NaN", " nan "])
def test_a_retry_after_of_nan_is_ignored(value):
    assert parse_retry_after(value) is None


def test_a_transient_answer_with_a_nan_retry_after_has_none():
    answer = classify(503, b"", {"Retry-After": "nan"})
    assert (answer.outcome, answer.retry_after) == (Outcome.TRANSIENT, None)


def test_a_redirect_to_a_location_with_an_impossible_port_names_no_target():
    answer = classify(301, b"", {"Location": "https://dengage.example:99999/x?apiKey=secret"})
    assert answer.outcome is Outcome.CONFIGURATION
    assert answer.reason == "HTTP 301 redirect: check DENGAGE_DATA_CENTER_URL"
    assert describe_configuration(answer) == answer.reason
