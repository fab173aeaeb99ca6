"""The sender's circuit breaker: a data center (or a proxy before it) that
refuses every request as bad input stops the run with every event kept,
instead of bisecting the backlog down to single events and killing it all.

A real poison event among good ones still goes dead alone.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from dengage_django import outbox
from dengage_django.delivery.sender import PROBES, REJECTED_ALONE_LIMIT, Sender
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status


def record(n, *, start=0):
    """``n`` valid PRODUCT_VIEW events of ``n`` visitors, P<start>...P<start+n-1>."""
    OutboxEvent.objects.bulk_create(
        outbox.new_event(
            "PRODUCT_VIEW",
            {"name": "PRODUCT_VIEW", "userId": f"u{i}", "sessionId": "s", "productId": f"P{i}"},
        )
        for i in range(start, start + n)
    )


def statuses():
    return dict(OutboxEvent.objects.values_list("status").annotate(n=Count("id")))


def refuse_all(server, status=400):
    """Every events request refused as bad: HTTP ``status`` (or, for 200, a
    ``statusCode: BAD_INPUT`` answer)."""
    server.reject_events(lambda event: True, status=status)


def test_a_data_center_refusing_every_request_stops_the_command_with_every_event_kept(
    fake_server,
):
    record(1000)
    refuse_all(fake_server, status=400)
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("send_dengage_outbox", stdout=out, stderr=io.StringIO())
    assert info.value.returncode == 2
    message = str(info.value)
    assert "every request was rejected as bad input (HTTP 400" in message
    assert "events kept" in message and "Every event is kept" in message
    requests = len(fake_server.requests)
    print(f"\nrefused everything: {requests} requests for 1000 events")
    assert requests <= 20
    assert statuses() == {Status.PENDING: 1000}
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {0}
    assert "sent 0, retrying 0, dead 0" in out.getvalue()


def test_bad_input_for_every_request_trips_the_breaker_too(fake_server):
    record(300)
    refuse_all(fake_server, status=200)  # statusCode BAD_INPUT
    report = Sender().drain()
    assert "BAD_INPUT" in report.configuration_error
    assert (report.sent, report.dead, report.retrying) == (0, 0, 0)
    assert report.requests <= 20
    # Every event is due again at once, no attempt counted; those refused
    # alone (three while bisecting, then the probes) carry the reason.
    assert OutboxEvent.objects.filter(status=Status.PENDING, attempts=0).count() == 300
    assert OutboxEvent.objects.due().count() == 300
    noted = OutboxEvent.objects.exclude(last_error="")
    assert noted.count() == REJECTED_ALONE_LIMIT + PROBES
    assert all("events kept" in row.last_error for row in noted)


def test_a_data_center_that_starts_refusing_mid_run_kills_nothing(fake_server):
    record(500)
    fake_server.reject_events(lambda event: int(event["productId"][1:]) >= 100)
    report = Sender().drain()
    assert report.sent == 100
    assert report.dead == 0
    assert "every request was rejected as bad input" in report.configuration_error
    assert statuses() == {Status.SENT: 100, Status.PENDING: 400}


def test_a_poison_event_among_good_ones_still_goes_dead_alone(fake_server):
    record(100)
    fake_server.reject_events(lambda event: event["productId"] == "P37")
    report = Sender().drain()
    assert (report.sent, report.dead, report.configuration_error) == (99, 1, "")
    dead = OutboxEvent.objects.get(status=Status.DEAD)
    assert dead.payload["productId"] == "P37"
    assert dead.last_error == "rejected: Dengage answered BAD_INPUT"


@pytest.mark.parametrize("poison", [{"P0"}, {"P0", "P1"}, {"P0", "P99"}, {"P10", "P70"}])
def test_poison_events_first_in_line_go_dead_once_the_others_go_through(fake_server, poison):
    """Refused alone before anything was accepted, they wait as suspects;
    the next accepted request shows the data center takes events."""
    record(100)
    fake_server.reject_events(lambda event: event["productId"] in poison)
    report = Sender().drain()
    assert (report.sent, report.dead, report.configuration_error) == (
        100 - len(poison),
        len(poison),
        "",
    )
    dead = set(
        OutboxEvent.objects.filter(status=Status.DEAD).values_list("payload__productId", flat=True)
    )
    assert dead == poison


@pytest.mark.parametrize("first", [0, 40, 97])
def test_a_run_of_bad_events_is_told_apart_by_probing_the_rest(fake_server, first):
    """Three bad events in a row, nothing accepted in between: events spread
    over the claim are sent alone; one accepted shows the data center takes
    events, so the three are dead and the rest goes through."""
    record(100)
    poison = {f"P{i}" for i in range(first, first + 3)}
    fake_server.reject_events(lambda event: event["productId"] in poison)
    report = Sender().drain()
    assert (report.sent, report.dead, report.configuration_error) == (97, 3, "")
    dead = OutboxEvent.objects.filter(status=Status.DEAD)
    assert set(dead.values_list("payload__productId", flat=True)) == poison
    assert report.requests <= 20
    sent = [event["productId"] for event in fake_server.events]
    assert len(sent) == len(set(sent)) == 97  # a probe is not sent again


def test_probes_never_overtake_a_visitors_earlier_event(fake_server):
    """20 visitors with 5 events each, recorded in turn; the first three
    events refused. Probes are each visitor's earliest unsent event, never
    one of the refused events' visitors: every visitor's events arrive in
    the order recorded."""
    OutboxEvent.objects.bulk_create(
        outbox.new_event(
            "PRODUCT_VIEW",
            {
                "name": "PRODUCT_VIEW",
                "userId": f"u{i % 20}",
                "sessionId": "s",
                "productId": f"P{i}",
            },
        )
        for i in range(100)
    )
    poison = {"P0", "P1", "P2"}
    fake_server.reject_events(lambda event: event["productId"] in poison)
    report = Sender().drain()
    assert (report.sent, report.dead) == (97, 3)
    arrived = {}
    for event in fake_server.events:
        arrived.setdefault(event["userId"], []).append(int(event["productId"][1:]))
    assert all(seen == sorted(seen) for seen in arrived.values()), arrived


def test_a_data_center_refusing_everything_names_the_refused_events(fake_server):
    record(100)
    refuse_all(fake_server)
    report = Sender().drain()
    refused = OutboxEvent.objects.exclude(last_error="").order_by("id")
    assert refused.count() == REJECTED_ALONE_LIMIT + PROBES
    named = ", ".join(f"#{pk}" for pk in refused.values_list("id", flat=True))
    assert f"events {named} refused alone" in report.configuration_error
    assert "mark them dead in the admin" in report.configuration_error
    assert statuses() == {Status.PENDING: 100}


def test_a_lone_bad_event_is_kept_until_another_event_goes_through(fake_server):
    """Nothing else to send: one refusal cannot tell a bad event from a data
    center refusing everything, so it is kept (and reported) until a run
    where something is accepted."""
    record(1)
    fake_server.reject_events(lambda event: event["productId"] == "P0")
    report = Sender().drain()
    assert report.dead == 0 and report.configuration_error
    assert statuses() == {Status.PENDING: 1}
    record(3, start=1)
    report = Sender().drain()
    assert (report.sent, report.dead, report.configuration_error) == (3, 1, "")
    assert OutboxEvent.objects.get(status=Status.DEAD).payload["productId"] == "P0"


def test_a_looping_sender_pauses_on_a_refusing_data_center(fake_server, settings):
    """Like a configuration error: paused, then probing again; nothing dies."""
    import threading

    settings.DENGAGE_CONFIGURATION_ERROR_PAUSE = 0.05
    record(50)
    refuse_all(fake_server)
    stop = threading.Event()
    reports = []

    def on_report(report):
        reports.append(report)
        if len(reports) == 2:
            fake_server.clear_rules()
        if report.sent or len(reports) == 5:  # (5: a regression must not loop forever)
            stop.set()

    total = Sender(stop_event=stop).loop(interval=0.01, on_report=on_report)
    assert reports[0].configuration_error and reports[1].configuration_error
    assert (total.sent, total.dead) == (50, 0)
