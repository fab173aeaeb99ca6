"""A visitor landing from a widget's link (``_sgm_*`` or Segmentify's
``utm_*`` parameters) is reported as an INTERACTION, and the parameters are
stripped from the URLs events report (spec/PERSONALISATION.md)."""

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from dengage_django.models import OutboxEvent
from dengage_django.testing import browser_client

pytestmark = pytest.mark.django_db

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CLICK = "_sgm_campaign=1519209383466&_sgm_action=click&_sgm_source=act-7"


@pytest.fixture
def browser():
    return browser_client()  # the testing module's, as a shop's tests would


def events(name=None):
    rows = OutboxEvent.objects.order_by("id")
    return [row.payload for row in (rows.filter(name=name) if name else rows)]


def test_a_click_from_a_widget_is_an_interaction_after_the_page_view(browser):
    response = browser.get(f"/p/1/?colour=red&{CLICK}#reviews")
    assert response.status_code == 200
    assert [e["name"] for e in events()] == ["PAGE_VIEW", "PRODUCT_VIEW", "INTERACTION"]
    page, _, interaction = events()
    assert {k: interaction[k] for k in ("type", "instanceId", "interactionId")} == {
        "type": "click",
        "instanceId": "1519209383466",
        "interactionId": "act-7",
    }
    assert interaction["userId"] == page["userId"] == response.cookies["dengage_uid"].value
    assert interaction["sessionId"] == page["sessionId"]
    # Stripped from every URL the events report; the shop's own parameters stay.
    assert page["pageUrl"] == "http://testserver/p/1/?colour=red"
    assert all("_sgm_" not in e.get("pageUrl", "") for e in events())


def test_segmentify_utm_parameters_count_as_the_same_click(browser):
    browser.get("/?utm_source=segmentify&utm_medium=click&utm_campaign=C9&utm_content=A3&page=2")
    [interaction] = events("INTERACTION")
    assert (interaction["type"], interaction["instanceId"], interaction["interactionId"]) == (
        "click",
        "C9",
        "A3",
    )
    assert events("PAGE_VIEW")[0]["pageUrl"] == "http://testserver/?page=2"


def test_other_utm_sources_are_no_click_and_stay_in_the_url(browser):
    query = "utm_source=newsletter&utm_medium=email&utm_campaign=C9&utm_content=A3"
    browser.get(f"/?{query}")
    assert events("INTERACTION") == []
    assert events("PAGE_VIEW")[0]["pageUrl"] == f"http://testserver/?{query}"


@pytest.mark.parametrize(
    "query",
    [
        "_sgm_campaign=C1&_sgm_action=click",  # no source
        "_sgm_campaign=&_sgm_action=click&_sgm_source=A1",  # blank campaign
        "_sgm_campaign=C1&_sgm_action=cl%00ick&_sgm_source=A1",  # unprintable
        f"_sgm_campaign={'x' * 129}&_sgm_action=click&_sgm_source=A1",  # too long
        "_sgm_campaign=C1&_sgm_action=no%20spaces&_sgm_source=A1",  # not a type code
    ],
)
def test_incomplete_or_bad_parameters_record_no_interaction_and_never_fail(browser, query):
    # Strict mode is on in tests: a visitor's odd URL must not raise anyway.
    response = browser.get(f"/?{query}")
    assert response.status_code == 200
    assert [e["name"] for e in events()] == ["PAGE_VIEW"]
    assert not OutboxEvent.objects.filter(name="INTERACTION").exists()
    assert "_sgm_" not in events("PAGE_VIEW")[0]["pageUrl"]


def test_a_bot_or_a_post_landing_with_the_parameters_records_nothing(browser):
    Client(headers={"user-agent": GOOGLEBOT}).get(f"/?{CLICK}")
    assert events() == []
    browser.get("/")  # cookies first, as a visitor posting a form has
    browser.post(f"/basket/add/1/?{CLICK}", {"qty": "1"})
    assert events("INTERACTION") == []


def test_a_redirect_is_no_landing_the_page_it_leads_to_is(browser):
    # RedirectView(query_string=True), i18n_patterns' language redirect:
    # the query goes on to the next hop, and the click is counted once there.
    browser.get(f"/go/?{CLICK}", follow=True)
    [interaction] = events("INTERACTION")
    assert interaction["pageUrl"] == "http://testserver/"
    browser.get(f"/logout/?{CLICK}")  # a redirect that drops the query
    assert len(events("INTERACTION")) == 1


def test_a_missing_page_is_no_landing(browser):
    browser.get("/")
    assert browser.get(f"/no-such-page/?{CLICK}").status_code == 404
    assert events("INTERACTION") == []


def test_the_next_pages_referrer_is_reported_without_the_parameters(browser):
    browser.get("/", headers={"referer": f"http://testserver/p/1/?x=1&{CLICK}"})
    assert events("PAGE_VIEW")[0]["referrer"] == "http://testserver/p/1/?x=1"


def test_a_url_field_a_helper_reports_is_stripped_too(rf, settings):
    from dengage_django.tracking.tracker import Tracker

    request = rf.get("/", headers={"user-agent": DESKTOP, "accept": "text/html"})
    request.session = {}
    tracker = Tracker(request)
    event = tracker.product_view(
        product_id="P1", title="Shoe", price=10, url=f"https://shop.example/p/1/?{CLICK}&x=1"
    )
    assert event.payload["url"] == "https://shop.example/p/1/?x=1"


def test_the_async_stack_records_the_click():
    # AsyncClient(headers=...) lands in the ASGI scope: give them per request.
    response = async_to_sync(AsyncClient().get)(f"/async/?{CLICK}", headers={"user-agent": DESKTOP})
    assert response.status_code == 200
    [interaction] = events("INTERACTION")
    assert interaction["instanceId"] == "1519209383466"
    assert "_sgm_" not in events("PAGE_VIEW")[0]["pageUrl"]


@pytest.mark.parametrize("action", ["impression", "widget-view", "purchase"])
def test_a_link_records_a_click_and_nothing_else(action):
    # Anyone can write a URL: an impression or a view in one would be
    # attribution forged at will.
    browser = Client(headers={"user-agent": DESKTOP})
    browser.get(f"/?_sgm_campaign=C1&_sgm_action={action}&_sgm_source=A1")
    browser.get(f"/?utm_source=segmentify&utm_medium={action}&utm_campaign=C1&utm_content=A1")
    assert not OutboxEvent.objects.filter(name="INTERACTION").exists()
