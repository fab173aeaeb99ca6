"""The signals a shop can wire metrics to."""

import pytest

import dengage_django
from dengage_django import signals
from dengage_django.delivery.sender import Sender
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls = []

    def make(name):
        def receiver(sender, **kwargs):
            calls.append((name, sender, kwargs))

        return receiver

    receivers = {
        name: make(name) for name in ("event_recorded", "batch_sent", "event_failed", "event_dead")
    }
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver)
    yield calls
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def record(n):
    for i in range(n):
        dengage_django.track("PAGE_VIEW", userId=f"u{i}", sessionId="s")


def test_event_recorded(received, lenient):
    record(1)
    dengage_django.track("PAGE_VIEW", userId="u", sessionId="s", device="TOASTER")
    [(_, sender, first), (_, _, second)] = received
    assert sender is OutboxEvent
    assert first["event"].status == "pending" and first["event"].pk
    assert second["event"].status == "invalid"


def test_batch_sent(received, fake_server):
    record(3)
    received.clear()
    Sender().drain()
    [(name, sender, kwargs)] = received
    assert (name, sender, kwargs["count"]) == ("batch_sent", Sender, 3)
    assert sorted(kwargs["event_ids"]) == sorted(OutboxEvent.objects.values_list("id", flat=True))


def test_event_failed_then_dead(received, fake_server, settings):
    settings.DENGAGE_MAX_ATTEMPTS = 1
    record(2)
    received.clear()
    fake_server.fail_next(status=503)
    Sender().drain()
    names = [(name, kwargs.get("retrying")) for name, _, kwargs in received]
    assert names == [("event_failed", False), ("event_dead", None)]
    assert received[1][2]["reason"] == "gave up after 1 attempts: HTTP 503"


def test_rejected_event_is_failed_and_dead(received, fake_server):
    record(2)
    fake_server.reject_events(lambda event: event["userId"] == "u1")
    received.clear()
    Sender().drain()
    names = [name for name, _, _ in received]
    assert names.count("event_dead") == 1 and names.count("batch_sent") == 1
    dead = next(kwargs for name, _, kwargs in received if name == "event_dead")
    assert dead["reason"] == "rejected: Dengage answered BAD_INPUT"


def test_a_failing_receiver_never_breaks_recording(caplog):
    def broken(sender, **kwargs):
        raise RuntimeError("metrics down")

    signals.event_recorded.connect(broken)
    try:
        event = dengage_django.track("PAGE_VIEW", userId="u", sessionId="s")
    finally:
        signals.event_recorded.disconnect(broken)
    assert event.pk
    assert "metrics down" in caplog.text
