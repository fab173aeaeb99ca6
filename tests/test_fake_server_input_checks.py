"""FakeDengageServer: a chunked request body (a client streaming its batch)
is read whole, and the fault-injection methods refuse arguments that make
no sense instead of silently doing nothing."""

import json

import pytest
import requests

from dengage_django.testing import DEFAULT_API_KEY, DEFAULT_ORIGIN, FakeDengageServer


@pytest.fixture
def server():
    with FakeDengageServer() as fake:
        yield fake


def test_a_chunked_body_is_read_whole(server):
    events = [{"name": "PAGE_VIEW", "userId": f"u{i}", "sessionId": "s"} for i in range(3)]
    body = json.dumps(events).encode()

    def stream():  # a generator body: requests sends it chunked
        for start in range(0, len(body), 10):
            yield body[start : start + 10]

    response = requests.post(
        f"{server.url}/add/events/v1.json",
        params={"apiKey": DEFAULT_API_KEY},
        data=stream(),
        headers={"Origin": DEFAULT_ORIGIN, "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200
    [request] = server.requests
    assert request.headers.get("Transfer-Encoding") == "chunked"
    assert request.body == body
    assert server.events == events


@pytest.mark.parametrize("count", [0, -1])
def test_fault_counts_must_be_at_least_one(server, count):
    with pytest.raises(ValueError, match="count must be at least 1"):
        server.fail_next(count)
    with pytest.raises(ValueError, match="count must be at least 1"):
        server.drop_next(count)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_failure_rate_must_be_a_probability(server, rate):
    with pytest.raises(ValueError, match="rate must be between 0 and 1"):
        server.set_failure_rate(rate)


def test_a_failure_rate_needs_a_kind_of_failure(server):
    with pytest.raises(ValueError, match="needs at least one kind of failure"):
        server.set_failure_rate(0.5, statuses=())
    server.set_failure_rate(0, statuses=())  # turning failures off needs none
    server.set_failure_rate(1, statuses=(), include_drops=True)
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{server.url}/add/events/v1.json",
            params={"apiKey": DEFAULT_API_KEY},
            json=[],
            headers={"Origin": DEFAULT_ORIGIN},
            timeout=5,
        )
