"""The JSON view for headless front ends (dengage_django.urls, dengage:decide)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from dengage_django import outbox
from dengage_django.models import OutboxEvent
from dengage_django.testing import SMART_OFFERS, Source

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
PAGE = {"name": "PAGE_VIEW", "category": "Product Page", "pageUrl": "https://front.example/p/1"}
PRODUCT = {"name": "PRODUCT_VIEW", "productId": "P1", "title": "Runner", "price": 10}


@pytest.fixture
def campaign(fake_server):
    fake_server.add_campaign(
        instance_id="also",
        title="You may also like",
        sources=[Source(SMART_OFFERS, item_count=2)],
        static_products=[{"productId": "P7", "name": "Trail &amp; Road", "url": "/p/7/"}],
        events=("PRODUCT_VIEW",),
    )
    return fake_server


@pytest.fixture
def visitor():
    client = Client(headers={"user-agent": DESKTOP})
    client.get("/")  # the front end's first page: cookies
    OutboxEvent.objects.all().delete()
    return client


def post(client, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(reverse("dengage:decide"), data, content_type="application/json", **extra)


def test_the_posted_events_go_live_and_the_widgets_come_back(campaign, visitor):
    answer = post(visitor, {"events": [PAGE, PRODUCT]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    [widget] = body["widgets"]
    assert (widget["instanceId"], widget["actionId"], widget["title"]) == (
        "also",
        "act_also",
        "You may also like",
    )
    assert widget["products"][0]["name"] == "Trail & Road"
    assert "_sgm_campaign=also" in widget["products"][0]["url"]
    # The front end's page, not the API's URL; ids from the cookies; no
    # PAGE_VIEW of the POST itself.
    sent = campaign.events
    assert [e["name"] for e in sent] == ["PAGE_VIEW", "PRODUCT_VIEW"]
    assert [e["pageUrl"] for e in sent] == ["https://front.example/p/1"] * 2
    impression = OutboxEvent.objects.get(name="INTERACTION").payload
    assert impression["pageUrl"] == "https://front.example/p/1"
    assert {e["userId"] for e in sent} == {visitor.cookies["dengage_uid"].value}
    statuses = dict(OutboxEvent.objects.values_list("name", "status"))
    assert statuses == {"PAGE_VIEW": "sent", "PRODUCT_VIEW": "sent", "INTERACTION": "pending"}


@pytest.mark.parametrize(
    "body, problem",
    [
        ("not json", "not JSON"),
        ("[" * 30000, "not JSON"),
        ({"events": [{"name": "INTERACTION", "type": "click", "instanceId": "c"}]}, "one of"),
        ([], '{"events"'),
        ({"events": []}, '{"events"'),
        ({"events": [PAGE] * 21}, '{"events"'),
        ({"events": ["PAGE_VIEW"]}, "events[0]: an object"),
        ({"events": [{"name": "NOPE"}]}, "events[0]: an object whose name"),
        ({"events": [PAGE, {**PRODUCT, "userId": "someone-else"}]}, "events[1]: userId"),
        ({"events": [{**PRODUCT, "price": -1}]}, "events[0]:"),
        ({"events": [{"name": "PRODUCT_VIEW"}]}, "productId"),
        ("x" * (64 * 1024 + 1), "larger than"),
    ],
)
def test_bad_bodies_are_a_400_naming_the_problem_and_record_nothing(
    campaign, visitor, body, problem, settings
):
    for strict in (True, False):
        settings.DENGAGE_STRICT = strict
        answer = post(visitor, body)
        assert answer.status_code == 400
        assert problem in answer.json()["reason"]
        assert answer.json()["widgets"] == []
    assert not OutboxEvent.objects.exists()
    assert campaign.events == []


def test_only_post(visitor):
    assert visitor.get(reverse("dengage:decide")).status_code == 405


def test_an_untracked_caller_gets_no_widget(campaign):
    bot = Client(headers={"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    answer = post(bot, {"events": [PAGE]})
    assert answer.status_code == 200 and answer.json() == {
        "ok": False,
        "reason": "",  # only with DEBUG on
        "widgets": [],
    }
    assert campaign.events == [] and not OutboxEvent.objects.exists()


def test_a_late_data_center_answers_no_widget_and_the_sender_delivers(campaign, visitor, settings):
    from dengage_django.delivery.sender import Sender

    settings.DENGAGE_LIVE_TIMEOUT = 0.1
    campaign.delay_next(0.4)
    body = post(visitor, {"events": [PAGE, PRODUCT]}).json()
    assert body["ok"] is False and body["widgets"] == []
    import time

    time.sleep(0.5)
    outbox.make_due(OutboxEvent.objects.all())  # the failed live call's pause
    assert Sender().drain().sent == 2
    assert [e["name"] for e in campaign.events].count("PRODUCT_VIEW") == 2  # late, then resent


def test_why_there_is_no_widget_is_told_only_in_debug(campaign, visitor, settings):
    settings.DEBUG = True
    campaign.fail_next(status=503)
    assert post(visitor, {"events": [PAGE]}).json()["reason"] == "HTTP 503"
    settings.DEBUG = False
    assert post(visitor, {"events": [PAGE]}).json()["reason"] == ""


def test_a_declared_length_over_the_limit_is_refused_before_reading(visitor):
    answer = visitor.post(
        reverse("dengage:decide"),
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(64 * 1024 + 1),
    )
    assert answer.status_code == 400 and "larger than" in answer.json()["reason"]


def test_the_view_needs_the_csrf_token_like_any_post(campaign, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.csrf.CsrfViewMiddleware"]
    client = Client(headers={"user-agent": DESKTOP}, enforce_csrf_checks=True)
    client.get("/")
    assert post(client, {"events": [PAGE]}).status_code == 403
    assert campaign.events == []


def test_without_a_page_view_the_events_are_of_the_page_posting_them(campaign, visitor):
    answer = post(visitor, {"events": [PRODUCT]}, headers={"referer": "https://front.example/p/9"})
    assert answer.status_code == 200
    assert [e["pageUrl"] for e in campaign.events] == ["https://front.example/p/9"]
    assert "referrer" not in campaign.events[0]


def test_the_page_views_referrer_is_the_events_referrer(campaign, visitor):
    page = {**PAGE, "referrer": "https://search.example/?q=shoes"}
    post(visitor, {"events": [page, PRODUCT]}, headers={"referer": "https://front.example/p/1"})
    assert {e["referrer"] for e in campaign.events} == {"https://search.example/?q=shoes"}


def test_a_front_end_landing_from_a_widget_link_records_the_click(campaign, visitor):
    landing = {
        **PAGE,
        "pageUrl": "https://front.example/p/7?_sgm_campaign=also&_sgm_action=click"
        "&_sgm_source=act_also&colour=red",
    }
    post(visitor, {"events": [landing, PRODUCT]})
    names = [e["name"] for e in campaign.events]
    assert names == ["PAGE_VIEW", "PRODUCT_VIEW", "INTERACTION"]  # the click after its page
    [click] = [e for e in campaign.events if e["name"] == "INTERACTION"]
    assert (click["type"], click["instanceId"], click["interactionId"]) == (
        "click",
        "also",
        "act_also",
    )
    # Every event reports the page without the attribution parameters.
    assert {e["pageUrl"] for e in campaign.events} == {"https://front.example/p/7?colour=red"}


@pytest.mark.parametrize(
    "page_url",
    [
        "https://front.example/p/7?_sgm_campaign=also&_sgm_action=click",  # no source
        "https://front.example/p/7?utm_source=newsletter&utm_campaign=x",
        "http://[::1/p/7?_sgm_campaign=also",  # not a URL
    ],
)
def test_no_click_without_a_widget_links_parameters(campaign, visitor, page_url):
    answer = post(visitor, {"events": [{**PAGE, "pageUrl": page_url}]})
    assert answer.status_code in (200, 400)
    assert not [e for e in campaign.events if e["name"] == "INTERACTION"]
    assert not OutboxEvent.objects.filter(payload__type="click").exists()


def test_a_click_needs_a_page_view_a_product_view_alone_is_no_landing(campaign, visitor):
    product = {
        **PRODUCT,
        "pageUrl": "https://front.example/p/7?_sgm_campaign=a&_sgm_action=click&_sgm_source=s",
    }
    post(visitor, {"events": [product]})
    assert not [e for e in campaign.events if e["name"] == "INTERACTION"]


def test_the_page_views_url_may_be_spelt_page_url(campaign, visitor):
    page = {
        "name": "PAGE_VIEW",
        "category": "Product Page",
        "page_url": "https://front.example/p/3",
    }
    post(visitor, {"events": [page, PRODUCT]}, headers={"referer": "https://front.example/other"})
    assert {e["pageUrl"] for e in campaign.events} == {"https://front.example/p/3"}
