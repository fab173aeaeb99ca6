"""Rule 3: only browsers get visitor ids."""

import pytest

from dengage_django.models import OutboxEvent

from ..test_tracking import DESKTOP, GOOGLEBOT
from .conftest import STRIPE, browser, events

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "method, kwargs",
    [
        ("post", {"data": "{}", "content_type": "application/json"}),  # a webhook
        ("get", {"HTTP_ACCEPT": "application/json"}),  # an API client
    ],
)
def test_cookieless_non_page_requests_get_no_ids(method, kwargs):
    response = getattr(browser(DESKTOP), method)("/api/", **kwargs)
    assert not response.cookies
    assert not OutboxEvent.objects.exists()


def test_a_cookieless_post_records_no_visitor_event():
    response = browser().post("/basket/add/1/", {"qty": 1})
    assert response.status_code == 302
    assert not response.cookies and events() == []


def test_a_browsers_post_with_cookies_is_tracked():
    client = browser()
    client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    client.post("/basket/add/1/", {"qty": 1})
    [page, add] = events()
    assert add["name"] == "BASKET_OPERATIONS" and add["userId"] == page["userId"]


@pytest.mark.parametrize("agent", [STRIPE, GOOGLEBOT])
def test_known_clients_and_bots_get_no_ids_even_on_html_pages(agent):
    response = browser(agent).get("/")
    assert not response.cookies and events() == []
    assert "Cookie" not in response.get("Vary", "")
