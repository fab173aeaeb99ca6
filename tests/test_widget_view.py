"""Widget views (INTERACTION widget-view): signed tokens, the beacon view,
the template tags and the JSON view's tokens."""

import json
import time
from types import SimpleNamespace

import pytest
from django.core import signing
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from dengage_django.decisions import beacon
from dengage_django.models import OutboxEvent
from dengage_django.testing import SMART_OFFERS, Source
from dengage_django.tracking.tracker import Tracker

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
UID = "w" * 20
WIDGET = SimpleNamespace(instance_id="also", action_id="act_also")


def visitor(uid=UID, **headers):
    client = Client(enforce_csrf_checks=True, headers={"user-agent": DESKTOP, **headers})
    client.cookies["dengage_uid"] = uid
    return client


def beacon_post(client, body):
    return client.post(reverse("dengage:widget-view"), body, content_type="text/plain")


def views():
    rows = OutboxEvent.objects.filter(name="INTERACTION")
    return [
        (p["type"], p["instanceId"], p.get("interactionId"), p["userId"])
        for p in rows.values_list("payload", flat=True)
    ]


# -- tokens ------------------------------------------------------------------------


def test_a_token_names_the_widget_for_its_visitor_only():
    token = beacon.view_token(UID, WIDGET)
    view = beacon.read_token(token, UID)
    assert (view.instance_id, view.action_id) == ("also", "act_also")
    assert beacon.read_token(token, "x" * 20) == "the token is another visitor's"
    assert beacon.read_token(token, "") == "the token is another visitor's"
    assert beacon.view_token(UID, WIDGET) != token  # each has its own random part


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "é:ü",
        "x" * 2000,
        signing.dumps({"i": "also", "a": "act_also", "u": UID, "n": "n", "p": ""}),  # no salt
        signing.dumps({"i": "also", "u": UID, "n": "n", "p": ""}, salt=beacon.SALT),  # no "a"
        signing.dumps(["also"], salt=beacon.SALT),
    ],
)
def test_a_token_this_site_did_not_sign_for_a_widget_is_refused(token):
    assert beacon.read_token(token, UID) == "the token is not one this site signed"


def test_an_altered_token_is_refused():
    token = beacon.view_token(UID, WIDGET)
    payload, rest = token.split(":", 1)
    claims = {"i": "other", "a": "act_other", "u": UID, "n": "n", "p": ""}
    forged = signing.dumps(claims, salt=beacon.SALT)
    assert beacon.read_token(forged.split(":", 1)[0] + ":" + rest, UID) == (
        "the token is not one this site signed"
    )
    last = "A" if token[-1] != "A" else "B"
    assert beacon.read_token(token[:-1] + last, UID) == "the token is not one this site signed"


def test_an_old_token_is_refused(monkeypatch):
    token = beacon.view_token(UID, WIDGET)
    later = time.time() + beacon.MAX_AGE + 1
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert beacon.read_token(token, UID) == "the token is too old"


def test_a_token_is_used_once():
    view = beacon.read_token(beacon.view_token(UID, WIDGET), UID)
    assert beacon.first_use(view) is True
    assert beacon.first_use(view) is False


# -- the view ------------------------------------------------------------------------


def test_a_beacon_records_the_widget_view_once_without_a_csrf_token():
    client = visitor()
    token = beacon.view_token(UID, WIDGET, "https://shop.example/p/1/")
    assert beacon_post(client, token).status_code == 204
    assert beacon_post(client, token).status_code == 204  # replayed: nothing more
    assert views() == [("widget-view", "also", "act_also", UID)]
    # Of the widget's page, not of the beacon's URL.
    [payload] = OutboxEvent.objects.filter(name="INTERACTION").values_list("payload", flat=True)
    assert payload["pageUrl"] == "https://shop.example/p/1/"


def test_another_visitors_token_is_refused_and_records_nothing(settings):
    token = beacon.view_token("x" * 20, WIDGET)
    answer = beacon_post(visitor(), token)
    assert answer.status_code == 400 and answer.content == b""
    settings.DEBUG = True
    answer = beacon_post(visitor(), token)
    assert answer.content == b"the token is another visitor's"
    assert views() == []


@pytest.mark.parametrize("body", ["", "not a token"])
def test_bad_bodies_are_refused(body):
    assert beacon_post(visitor(), body).status_code == 400
    assert views() == []


def test_a_body_longer_than_a_token_is_not_read():
    padded = beacon.view_token(UID, WIDGET) + " " * beacon.MAX_TOKEN  # valid once stripped
    assert beacon_post(visitor(), padded).status_code == 400
    assert views() == []


def test_a_failing_cache_records_no_view_and_breaks_nothing(monkeypatch, settings, caplog):
    settings.DENGAGE_STRICT = False

    def down(view):
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(beacon, "first_use", down)
    assert beacon_post(visitor(), beacon.view_token(UID, WIDGET)).status_code == 204
    assert views() == [] and "the cache of used tokens failed" in caplog.text
    settings.DENGAGE_STRICT = True
    with pytest.raises(ConnectionError):
        beacon_post(visitor(), beacon.view_token(UID, WIDGET))


def test_only_post_is_allowed():
    assert visitor().get(reverse("dengage:widget-view")).status_code == 405


def test_an_untracked_visitor_records_nothing_and_is_told_nothing():
    bot = visitor(**{"user-agent": "Googlebot/2.1"})
    assert beacon_post(bot, beacon.view_token("x" * 20, WIDGET)).status_code == 204
    assert views() == []


def test_a_widget_without_an_action_id_is_viewed_without_one():
    token = beacon.view_token(UID, SimpleNamespace(instance_id="hero", action_id=None))
    assert beacon_post(visitor(), token).status_code == 204
    assert views() == [("widget-view", "hero", None, UID)]


# -- the template tags -----------------------------------------------------------------


def tracked_request():
    request = RequestFactory().get("/p/1/", headers={"user-agent": DESKTOP, "accept": "text/html"})
    request.session = {}
    request.COOKIES["dengage_uid"] = UID
    request.dengage = Tracker(request, deferred=True)
    return request


def render(source, **context):
    return Template("{% load dengage %}" + source).render(Context(context))


def test_the_attribute_carries_the_visitors_token_of_the_page():
    html = render("<section{% dengage_widget_view w %}>", request=tracked_request(), w=WIDGET)
    token = html.split('data-dengage-view="')[1].split('"')[0]
    assert html.startswith('<section data-dengage-view="')
    view = beacon.read_token(token, UID)
    assert (view.instance_id, view.page_url) == ("also", "http://testserver/p/1/")


def test_no_attribute_without_a_tracked_request():
    assert render("<section{% dengage_widget_view w %}>", w=WIDGET) == "<section>"


def test_the_script_with_the_pages_nonce_and_the_beacons_url():
    html = render("{% dengage_widget_view_script %}", csp_nonce="n0nce")
    assert html.startswith('<script nonce="n0nce" data-url="/dengage/widget-view/">')
    assert 'getAttribute("data-dengage-view")' in html  # not escaped
    assert "&quot;" not in html
    explicit = render('{% dengage_widget_view_script nonce="abc" %}', csp_nonce="n0nce")
    assert explicit.startswith('<script nonce="abc" ')
    assert render("{% dengage_widget_view_script %}").startswith(
        '<script data-url="/dengage/widget-view/">'
    )


urlpatterns = []  # a site without dengage_django.urls


@override_settings(ROOT_URLCONF=__name__)
def test_no_script_without_the_urls():
    assert render("{% dengage_widget_view_script %}") == ""


# -- the JSON view ---------------------------------------------------------------------


def test_the_json_views_widgets_carry_tokens_for_the_beacon(fake_server):
    fake_server.add_campaign(
        instance_id="also",
        sources=[Source(SMART_OFFERS, item_count=1)],
        static_products=[{"productId": "P7", "name": "Trail", "url": "/p/7/"}],
        events=("PRODUCT_VIEW",),
    )
    client = Client(headers={"user-agent": DESKTOP})
    client.cookies["dengage_uid"] = UID
    events = [{"name": "PRODUCT_VIEW", "productId": "P1", "title": "Runner", "price": 10}]
    answer = client.post(
        reverse("dengage:decide"), json.dumps({"events": events}), content_type="application/json"
    )
    [widget] = answer.json()["widgets"]
    assert beacon_post(client, widget["viewToken"]).status_code == 204
    assert ("widget-view", "also", "act_also", UID) in views()
