"""request.dengage.decide(): the page's events sent live with a deadline,
Dengage's widgets back, every event delivered exactly once whatever the
live call did (real HTTP to the fake data center)."""

import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.template import Context, Template
from django.test import AsyncClient, Client, RequestFactory
from django.utils import timezone

from dengage_django import outbox
from dengage_django.decisions import Decisions, live
from dengage_django.delivery.sender import Sender
from dengage_django.models import OutboxEvent
from dengage_django.testing import SMART_OFFERS, Source
from dengage_django.tracking.tracker import Tracker

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
Status = OutboxEvent.Status


@pytest.fixture
def campaign(fake_server):
    fake_server.add_campaign(
        instance_id="also",
        title="You may also like",
        sources=[Source(SMART_OFFERS, item_count=3)],
        static_products=[
            {"productId": pid, "name": f"Shoe {pid}", "url": f"/p/{pid}/"}
            for pid in ("P7", "P8", "P9")
        ],
        events=("PRODUCT_VIEW",),
    )
    return fake_server


def posts(fake):
    return [r for r in fake.requests if r.path.endswith("/add/events/v1.json")]


def tracker_for(path="/p/1/", cookies=None):
    request = RequestFactory().get(path, headers={"user-agent": DESKTOP, "accept": "text/html"})
    request.session = {}
    request.COOKIES.update(cookies or {})
    return Tracker(request, deferred=True)


def statuses():
    return list(OutboxEvent.objects.order_by("id").values_list("name", "status"))


def test_decide_sends_the_page_live_and_returns_the_widgets(campaign):
    tracker = tracker_for()
    tracker.page("Product Page")
    tracker.product_view(product_id="P1", title="Runner", price=10, url="/p/1/")
    decisions = tracker.decide()
    [widget] = decisions.widgets
    assert (widget.instance_id, widget.action_id, widget.title) == (
        "also",
        "act_also",
        "You may also like",
    )
    assert [p["productId"] for p in widget.products] == ["P7", "P8", "P9"]
    assert "_sgm_campaign=also" in widget.products[0]["url"]
    # Sent once, live: both rows sent; the middleware will not add a PAGE_VIEW.
    assert statuses() == [("PAGE_VIEW", Status.SENT), ("PRODUCT_VIEW", Status.SENT)]
    assert [e["name"] for e in campaign.events] == ["PAGE_VIEW", "PRODUCT_VIEW"]
    assert campaign.events[0]["category"] == "Product Page"
    assert tracker.record_page_view() is None
    # The impression waits for the response, like the page's other events.
    assert not OutboxEvent.objects.filter(name="INTERACTION").exists()
    assert tracker.flush() == []
    [impression] = OutboxEvent.objects.filter(name="INTERACTION").values_list("payload", flat=True)
    assert impression["type"] == "impression"
    assert (impression["instanceId"], impression["interactionId"]) == ("also", "act_also")


def test_decide_twice_sends_nothing_new_and_returns_the_same_object(campaign):
    tracker = tracker_for()
    first = tracker.decide()
    tracker.product_view(product_id="P1", title="Runner", price=10)
    assert tracker.decide() is first
    assert len(posts(campaign)) == 1


def due_now():
    """The failed live call's pause is over (instead of waiting for it)."""
    outbox.make_due(OutboxEvent.objects.all())


def test_a_late_answer_leaves_the_events_to_the_sender_delivered_once(campaign, settings):
    settings.DENGAGE_LIVE_TIMEOUT = 0.1
    campaign.delay_next(0.5)
    cookies = {"dengage_uid": "v" * 20}
    tracker = tracker_for("/p/1/", cookies)
    started = time.monotonic()
    decisions = tracker.decide()
    elapsed = time.monotonic() - started
    assert decisions.widgets == [] and not decisions.ok and "timed out" in decisions.reason
    assert elapsed < 0.1 + 0.1  # one limit for connecting and reading
    assert statuses() == [("PAGE_VIEW", Status.IN_FLIGHT)]  # given back after the response
    tracker.flush()
    assert statuses() == [("PAGE_VIEW", Status.PENDING)]
    row = OutboxEvent.objects.get()
    assert row.attempts == 0
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=live.FAILED_RELEASE_DELAY - 2)
    # The visitor's next page sends nothing live: the data center may have
    # taken the late POST, and it would go again with every page.
    following = tracker_for("/p/2/", cookies)
    assert "order" in following.decide().reason
    following.flush()
    time.sleep(0.5)
    assert len(posts(campaign)) == 1
    # The sender sends it again (the documented duplicate window of a late
    # success), once, then the following page.
    due_now()
    assert Sender().drain().sent == 2
    assert [e["pageUrl"] for e in campaign.events] == [
        "http://testserver/p/1/",
        "http://testserver/p/1/",
        "http://testserver/p/2/",
    ]
    assert Sender().drain().processed == 0


def test_a_failing_data_center_leaves_them_to_the_sender(campaign):
    campaign.fail_next(status=503)
    tracker = tracker_for()
    assert tracker.decide().widgets == []
    tracker.flush()
    assert statuses() == [("PAGE_VIEW", Status.PENDING)]
    due_now()
    assert Sender().drain().sent == 1
    assert [e["name"] for e in campaign.events] == ["PAGE_VIEW"]


def test_failures_in_a_row_open_the_circuit_and_pages_stop_waiting(campaign, settings):
    settings.DENGAGE_LIVE_TIMEOUT = 0.05
    for _ in range(live.CIRCUIT_FAILURES):
        campaign.fail_next(status=503)
        failed = tracker_for()
        assert not failed.decide().ok
        failed.flush()
    before = len(posts(campaign))
    started = time.monotonic()
    decisions = tracker_for().decide()
    assert time.monotonic() - started < 0.05
    assert "circuit" in decisions.reason
    assert len(posts(campaign)) == before  # not even tried
    # Its events stay with the request (the middleware stores them after
    # the response), and every event is delivered later, once.
    late = tracker_for()
    late.decide()
    late.record_page_view()
    assert late.flush() == []
    due_now()
    assert Sender().drain().sent == live.CIRCUIT_FAILURES + 1
    assert len(campaign.events) == live.CIRCUIT_FAILURES + 1


def test_the_circuit_closes_after_its_pause(campaign, monkeypatch):
    for _ in range(live.CIRCUIT_FAILURES):
        campaign.fail_next(status=503)
        tracker_for().decide()
    assert "circuit" in tracker_for().decide().reason
    later = time.monotonic() + live.CIRCUIT_OPEN_SECONDS + 1
    monkeypatch.setattr(live, "_now", lambda: later)
    assert tracker_for().decide().ok


def test_a_configuration_error_pauses_live_calls(campaign, settings):
    settings.DENGAGE_API_KEY = "wrong"
    assert "NO_ACCOUNT" in tracker_for().decide().reason
    before = len(posts(campaign))
    decisions = tracker_for().decide()
    assert "configuration" in decisions.reason and not decisions.ok
    assert len(posts(campaign)) == before


def test_the_visitors_earlier_events_go_first_and_nothing_overtakes(campaign):
    cookies = {"dengage_uid": "u" * 20}
    earlier = tracker_for("/", cookies)
    earlier.record_page_view()
    earlier.flush()  # the previous page, still waiting for the sender
    tracker = tracker_for("/p/1/", cookies)
    tracker.product_view(product_id="P1", title="Runner", price=10)
    decisions = tracker.decide()
    assert decisions.ok and decisions.widgets  # the PRODUCT_VIEW's answer
    assert [e["pageUrl"] for e in campaign.events] == [
        "http://testserver/",
        "http://testserver/p/1/",
        "http://testserver/p/1/",
    ]
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {Status.SENT}


def test_no_live_send_while_an_earlier_event_of_the_visitor_is_in_flight(campaign):
    cookies = {"dengage_uid": "u" * 20}
    earlier = tracker_for("/", cookies)
    earlier.record_page_view()
    earlier.flush()
    outbox.claim(10, lease_seconds=30)  # a sender is sending it
    tracker = tracker_for("/p/1/", cookies)
    tracker.product_view(product_id="P1", title="Runner", price=10)
    decisions = tracker.decide()
    assert not decisions.ok and "order" in decisions.reason
    assert posts(campaign) == []
    # The page's events stay with the request, stored after the response.
    assert tracker.has_pending()


@pytest.mark.parametrize("setting", ["DENGAGE_API_KEY", "DENGAGE_DATA_CENTER_URL"])
def test_not_configured_means_no_decisions_and_events_kept(settings, setting):
    setattr(settings, setting, "")
    tracker = tracker_for()
    tracker.product_view(product_id="P1", title="Runner", price=10)
    decisions = tracker.decide()
    assert decisions == Decisions.empty(decisions.reason) and "not configured" in decisions.reason
    assert tracker.has_pending()


def test_an_untracked_request_decides_nothing(fake_server):
    request = RequestFactory().get("/", headers={"user-agent": "Googlebot/2.1"})
    request.session = {}
    assert Tracker(request, deferred=True).decide().reason == "not tracked"
    assert posts(fake_server) == []


def test_the_template_tag_through_the_middleware_with_caching_headers(campaign):
    client = Client(headers={"user-agent": DESKTOP})
    response = client.get("/recommended/1/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "You may also like" in html and "_sgm_source=act_also" in html
    assert "Cookie" in response["Vary"]
    assert "private" in response["Cache-Control"]
    names = [e["name"] for e in campaign.events]
    assert names == ["PAGE_VIEW", "PRODUCT_VIEW"]  # one PAGE_VIEW
    # After the response: the page's events marked sent, the impression stored.
    assert statuses() == [
        ("PAGE_VIEW", Status.SENT),
        ("PRODUCT_VIEW", Status.SENT),
        ("INTERACTION", Status.PENDING),
    ]


def test_the_tag_renders_an_empty_list_without_a_request_or_middleware():
    out = Template(
        "{% load dengage %}{% dengage_recommendations as widgets %}[{{ widgets|length }}]"
    ).render(Context({}))
    assert out == "[0]"


def test_adecide_in_an_async_view(campaign):
    client = AsyncClient()
    response = async_to_sync(client.get)("/async/recommended/", headers={"user-agent": DESKTOP})
    assert response.status_code == 200
    assert response.content.decode() == "widgets: also"
    assert [e["name"] for e in campaign.events] == ["PAGE_VIEW", "PRODUCT_VIEW"]
    assert set(OutboxEvent.objects.values_list("name", "status")) == {
        ("PAGE_VIEW", Status.SENT),
        ("PRODUCT_VIEW", Status.SENT),
        ("INTERACTION", Status.PENDING),
    }


def test_a_database_error_while_storing_keeps_the_events_with_the_request(
    campaign, monkeypatch, settings, caplog
):
    settings.DENGAGE_STRICT = False
    tracker = tracker_for()
    tracker.product_view(product_id="P1", title="Runner", price=10)

    def broken(rows):
        raise outbox.OperationalError("the database went away")

    monkeypatch.setattr(outbox, "insert", broken)
    decisions = tracker.decide()
    assert not decisions.ok and decisions.widgets == []
    assert "decide() failed" in caplog.text
    monkeypatch.undo()
    assert posts(campaign) == []
    assert tracker.flush() == []  # the middleware's store after the response
    assert statuses() == [("PAGE_VIEW", Status.PENDING), ("PRODUCT_VIEW", Status.PENDING)]


def test_a_database_error_before_storing_keeps_the_events_with_the_request(
    campaign, monkeypatch, settings
):
    settings.DENGAGE_STRICT = False
    tracker = tracker_for()
    tracker.product_view(product_id="P1", title="Runner", price=10)

    def locked(*args, **kwargs):
        raise outbox.OperationalError("database is locked")

    monkeypatch.setattr(outbox, "_claim_visitor", locked)
    assert not tracker.decide().ok
    monkeypatch.undo()
    assert tracker.flush() == []
    assert statuses() == [("PAGE_VIEW", Status.PENDING), ("PRODUCT_VIEW", Status.PENDING)]
    assert posts(campaign) == []


def test_inside_the_views_transaction_nothing_goes_live(campaign):
    from django.db import transaction

    tracker = tracker_for()
    with transaction.atomic():
        decisions = tracker.decide()
    assert "transaction" in decisions.reason and posts(campaign) == []
    tracker.record_page_view()  # the middleware's, after the view
    assert tracker.flush() == [] and statuses() == [("PAGE_VIEW", Status.PENDING)]


def test_more_events_than_a_batch_are_left_to_the_sender(campaign, settings):
    settings.DENGAGE_BATCH_SIZE = 2
    cookies = {"dengage_uid": "w" * 20}
    for path in ("/a/", "/b/"):
        earlier = tracker_for(path, cookies)
        earlier.record_page_view()
        earlier.flush()
    decisions = tracker_for("/c/", cookies).decide()
    assert decisions.reason == "too many events waiting" and posts(campaign) == []
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_live_calls_share_idle_clients_across_threads(campaign, monkeypatch):
    # Under ASGI each request runs in a thread of its own: a client per
    # thread would open a connection per page.
    import threading

    from dengage_django.delivery import client as client_module

    built = []
    real = client_module.DengageClient

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(live, "DengageClient", counting)
    for _ in range(3):
        thread = threading.Thread(target=lambda: tracker_for().decide())
        thread.start()
        thread.join()
    assert len(posts(campaign)) == 3 and len(built) == 1


def test_after_its_pause_one_call_tests_the_data_center(monkeypatch):
    from dengage_django.delivery.answers import Outcome

    for _ in range(live.CIRCUIT_FAILURES):
        live._record(Outcome.TRANSIENT, "HTTP 503")
    assert "circuit open" in live._may_call()[0]
    later = time.monotonic() + live.CIRCUIT_OPEN_SECONDS + 1
    monkeypatch.setattr(live, "_now", lambda: later)
    assert live._may_call() == ("", True)  # the trial
    assert "half open" in live._may_call()[0]  # everyone else meanwhile
    live._record(Outcome.TRANSIENT, "HTTP 503")  # the trial failed: open again
    live._end_trial()
    assert "circuit open" in live._may_call()[0]
    monkeypatch.setattr(live, "_now", lambda: later + live.CIRCUIT_OPEN_SECONDS + 1)
    assert live._may_call() == ("", True)
    live._record(Outcome.SUCCESS, "")
    live._end_trial()
    assert live._may_call() == ("", False) and live._may_call() == ("", False)


def test_only_the_trial_call_ends_the_trial(campaign, monkeypatch):
    # A call that began before the circuit opened, ending during the
    # trial, must not let a second trial start.
    from dengage_django.delivery.answers import Outcome

    for _ in range(live.CIRCUIT_FAILURES):
        live._record(Outcome.TRANSIENT, "HTTP 503")
    later = time.monotonic() + live.CIRCUIT_OPEN_SECONDS + 1
    monkeypatch.setattr(live, "_now", lambda: later)
    assert live._may_call() == ("", True)  # another thread's trial, still out
    live._open_until = 0.0  # as if the circuit had been closed for this call
    assert tracker_for().decide().ok
    live._open_until = later - 1
    assert "half open" in live._may_call()[0]


def test_a_refused_event_is_no_outage(campaign):
    for _ in range(live.CIRCUIT_FAILURES):
        campaign.status_code_next("BAD_INPUT")
        failed = tracker_for()
        assert not failed.decide().ok
        failed.flush()
    assert tracker_for().decide().ok  # the circuit never opened


def test_decide_in_a_post_sends_no_page_view_of_it(campaign):
    request = RequestFactory().post("/basket/", headers={"user-agent": DESKTOP})
    request.session = {}
    request.COOKIES["dengage_uid"] = "p" * 20  # a visitor we know
    tracker = Tracker(request, deferred=True)
    tracker.product_view(product_id="P1", title="Runner", price=10)
    decisions = tracker.decide()
    assert decisions.ok, decisions.reason
    assert [e["name"] for e in campaign.events] == ["PRODUCT_VIEW"]


def test_odd_ids_from_dengage_never_break_a_strict_page(fake_server, caplog):
    fake_server.add_campaign(
        instance_id="bad\ud800id",
        static_products=[{"productId": "P7"}],
        events=("PAGE_VIEW",),
    )
    decisions = tracker_for().decide()  # strict mode is on in tests
    assert decisions.widgets and "no impression" in caplog.text


def test_a_client_borrowed_before_a_settings_change_is_not_lent_after_it(fake_server, settings):
    borrowed = live._borrow()
    assert borrowed[1].api_key == settings.DENGAGE_API_KEY
    settings.DENGAGE_API_KEY = "another-key"
    live._return(borrowed)  # the call in flight ends after the change
    assert live._borrow()[1].api_key == "another-key"


def slow_outbox(monkeypatch, seconds):
    """The outbox's work before the POST takes ``seconds`` more."""
    lease_for_live = outbox.lease_for_live

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return lease_for_live(*args, **kwargs)

    monkeypatch.setattr(outbox, "lease_for_live", slow)


def test_a_deadline_spent_by_the_database_makes_no_post_and_blames_no_one(
    campaign, monkeypatch, settings
):
    settings.DENGAGE_LIVE_TIMEOUT = 0.1
    slow_outbox(monkeypatch, 0.15)
    for _ in range(live.CIRCUIT_FAILURES):
        tracker = tracker_for()
        assert "deadline was spent" in tracker.decide().reason
        tracker.flush()
    assert posts(campaign) == []
    # Nothing was sent: the events are due at once, with no error of the
    # data center's, and the circuit is still closed.
    assert set(statuses()) == {("PAGE_VIEW", Status.PENDING)}
    assert OutboxEvent.objects.due().count() == live.CIRCUIT_FAILURES
    assert not OutboxEvent.objects.exclude(last_error="").exists()
    monkeypatch.undo()
    assert live._may_call() == ("", False)


def test_the_post_gets_what_is_left_of_the_deadline(campaign, monkeypatch, settings):
    settings.DENGAGE_LIVE_TIMEOUT = 0.3
    campaign.delay_next(0.2)  # in time for the whole deadline, not after 0.15 s of outbox work
    slow_outbox(monkeypatch, 0.15)
    assert "timed out" in tracker_for().decide().reason


def test_a_failed_call_is_given_back_after_the_response(campaign):
    campaign.fail_next(status=503)
    tracker = tracker_for()
    assert not tracker.decide().ok
    assert statuses() == [("PAGE_VIEW", Status.IN_FLIGHT)]  # the page did not wait
    assert tracker.has_pending()
    assert tracker.flush() == []
    assert statuses() == [("PAGE_VIEW", Status.PENDING)]
    assert "HTTP 503" in OutboxEvent.objects.get().last_error


def failed_call_that_cannot_be_given_back(campaign, monkeypatch):
    """A request whose live call failed, with a database that will fail to
    give its events back after the response."""

    def broken(*args, **kwargs):
        raise outbox.OperationalError("the database went away")

    monkeypatch.setattr(outbox, "release", broken)
    campaign.fail_next(status=503)
    tracker = tracker_for()
    assert not tracker.decide().ok
    return tracker


def test_giving_back_after_the_response_fails_quietly_and_the_sender_takes_over(
    campaign, monkeypatch, settings, caplog
):
    settings.DENGAGE_STRICT = False
    tracker = failed_call_that_cannot_be_given_back(campaign, monkeypatch)
    assert tracker.flush() == []
    assert "an outbox update after the response failed" in caplog.text
    assert statuses() == [("PAGE_VIEW", Status.IN_FLIGHT)]
    monkeypatch.undo()
    # The lease runs out: the sender delivers it, once.
    OutboxEvent.objects.filter(status=Status.IN_FLIGHT).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert Sender().drain().sent == 1
    assert [e["name"] for e in campaign.events] == ["PAGE_VIEW"]


def test_in_strict_mode_flush_raises_a_failed_update_and_still_stores_the_events(
    campaign, monkeypatch
):
    tracker = failed_call_that_cannot_be_given_back(campaign, monkeypatch)
    tracker.track("CUSTOM_EVENT", type="after-the-call")
    with pytest.raises(outbox.OperationalError):
        tracker.flush()
    assert statuses() == [("PAGE_VIEW", Status.IN_FLIGHT), ("CUSTOM_EVENT", Status.PENDING)]


def test_a_tracker_that_does_not_defer_runs_an_update_at_once():
    request = RequestFactory().get("/")
    request.session = {}
    tracker = Tracker(request)
    done = []
    tracker.after_response(lambda: done.append(1))
    assert done == [1] and not tracker.has_pending()


def test_the_post_is_given_up_early_by_what_giving_up_took_before(campaign, monkeypatch, settings):
    # requests returns after its timeout's clock has run out (it prepares
    # the request before starting it): decide() keeps that back next time.
    from dengage_django.delivery.answers import Answer, Outcome
    from dengage_django.delivery.client import DengageClient

    settings.DENGAGE_LIVE_TIMEOUT = 0.2
    limits = []

    def overrunning(client, body, count=None):
        limits.append(client.timeout.total)
        time.sleep(client.timeout.total + overrun)
        return Answer(Outcome.TRANSIENT, "timed out")

    monkeypatch.setattr(DengageClient, "send", overrunning)
    overrun = 0.004
    tracker_for().decide()
    assert 0.002 <= live._give_up < live.MAX_GIVE_UP
    learnt = live._give_up
    tracker_for().decide()
    assert limits[1] <= settings.DENGAGE_LIVE_TIMEOUT - learnt
    overrun = 0.5  # a resolver that hung, say: never more than MAX_GIVE_UP kept back
    tracker_for().decide()
    assert live._give_up == live.MAX_GIVE_UP
    live.reset()
    assert live._give_up == 0.0


def test_a_post_answered_in_time_teaches_nothing(campaign):
    assert tracker_for().decide().ok
    assert live._give_up == 0.0


def test_a_trial_call_that_fails_before_sending_still_ends_the_trial(
    campaign, monkeypatch, settings
):
    from dengage_django.delivery.answers import Outcome

    settings.DENGAGE_STRICT = False
    for _ in range(live.CIRCUIT_FAILURES):
        live._record(Outcome.TRANSIENT, "HTTP 503")
    later = time.monotonic() + live.CIRCUIT_OPEN_SECONDS + 1
    monkeypatch.setattr(live, "_now", lambda: later)

    def broken(self):
        raise RuntimeError("the session store is down")

    monkeypatch.setattr(Tracker, "record_page_view", broken)
    assert not tracker_for().decide().ok  # the trial, failed before its POST
    assert live._may_call() == ("", True)  # the next call may test the data center


def test_no_post_when_borrowing_a_client_spent_the_deadline(campaign, monkeypatch, settings):
    settings.DENGAGE_LIVE_TIMEOUT = 0.1
    borrow = live._borrow

    def slow():
        time.sleep(0.15)  # a client made, its environment read, on a loaded machine
        return borrow()

    monkeypatch.setattr(live, "_borrow", slow)
    tracker = tracker_for()
    assert "deadline was spent" in tracker.decide().reason
    assert posts(campaign) == [] and live._failures == 0
    tracker.flush()
    assert OutboxEvent.objects.due().count() == 1
