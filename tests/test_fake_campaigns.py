"""The fake data center's campaigns (issue 14): ``FakeDengageServer`` answers
``recommendProducts`` actions learned from the PRODUCT_VIEW events it
received, records INTERACTION events, and can be slow or fail on demand.

Everything goes over real HTTP, as a shop's code would reach it.
"""

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

import dengage_django
from dengage_django.testing import (
    COLLABORATIVE,
    DEFAULT_API_KEY,
    DEFAULT_ORIGIN,
    SMART_OFFERS,
    STATIC_ITEMS,
    Campaign,
    FakeDengageServer,
    Source,
)

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"Origin": DEFAULT_ORIGIN, "Content-Type": "application/json"}


@pytest.fixture
def server():
    with FakeDengageServer() as fake:
        yield fake


def post(server, events, *, timeout=5):
    """POST ``events`` to the fake's events endpoint and return the response."""
    return requests.post(
        f"{server.url}/add/events/v1.json",
        params={"apiKey": server.api_key},
        json=events,
        headers=HEADERS,
        timeout=timeout,
    )


def page_view(user="u1", **fields):
    return {"name": "PAGE_VIEW", "userId": user, "sessionId": "s", **fields}


def product_view(product_id, user="u1", **fields):
    return {
        "name": "PRODUCT_VIEW",
        "userId": user,
        "sessionId": "s",
        "productId": product_id,
        **fields,
    }


def interaction(kind, instance_id, interaction_id, user="u1"):
    return {
        "name": "INTERACTION",
        "userId": user,
        "sessionId": "s",
        "type": kind,
        "instanceId": instance_id,
        "interactionId": interaction_id,
    }


def view_all(server, *views):
    """Teach the fake some views: each ``(product_id, user)`` pair a PRODUCT_VIEW."""
    assert post(server, [product_view(pid, user) for pid, user in views]).status_code == 200


def ids(products):
    return [product["productId"] for product in products]


def recommended(answer, event_index=0, action_index=0, key=SMART_OFFERS):
    """The product ids under ``key`` in one action of an answer's JSON."""
    action = answer["responses"][event_index][action_index]
    return ids(action["params"]["recommendedProducts"][key])


# The answer's shape.


def test_without_campaigns_every_event_gets_an_empty_entry(server):
    view_all(server, ("P1", "u1"))

    body = post(server, [page_view(), product_view("P1")]).json()

    assert body["responses"] == [[], []]
    assert body["campaigns"] == [[], []]


def test_each_event_gets_the_actions_of_the_campaigns_for_its_name(server):
    server.add_campaign(instance_id="also", title="You may also like", sources=[SMART_OFFERS])
    server.add_campaign(instance_id="home", events=["PAGE_VIEW"])

    body = post(
        server,
        [
            page_view(),
            {"name": "BASKET_OPERATIONS", "userId": "u1", "sessionId": "s", "step": "add"},
            product_view("P1"),
        ],
    ).json()

    assert [len(actions) for actions in body["responses"]] == [2, 0, 1]
    assert body["campaigns"] == [["also", "home"], [], ["also"]]
    assert [a["instanceId"] for a in body["responses"][0]] == ["also", "home"]
    assert body["responses"][2][0]["instanceId"] == "also"
    assert "statusCode" not in body


def test_a_recommend_products_action_has_the_vendor_shape(server):
    server.add_campaign(
        instance_id="w1",
        title="Popular today",
        sources=[
            Source(SMART_OFFERS, "TODAY", "NONE", item_count=2),
            (COLLABORATIVE, "", "", 3),
        ],
        static_products=[{"productId": "S1", "name": "Gift card"}],
        elimination="NO_ELIMINATION",
    )
    view_all(server, ("P1", "u1"))

    (action,) = post(server, [page_view()]).json()["responses"][0]

    assert action["type"] == "recommendProducts"
    assert action["instanceId"] == "w1"
    params = action["params"]
    assert set(params) == {
        "instanceId",
        "actionId",
        "notificationTitle",
        "actionType",
        "dynamicItems",
        "recommendedProducts",
        "elimination",
        "ordering",
    }
    assert params["instanceId"] == "w1"
    assert params["actionId"] == "act_w1"
    assert params["notificationTitle"] == "Popular today"
    assert params["actionType"] == "INPAGE_WIDGET"
    assert params["elimination"] == "NO_ELIMINATION"
    assert params["ordering"] == "NO_SHUFFLE"
    assert isinstance(params["dynamicItems"], str)
    assert json.loads(params["dynamicItems"]) == [
        {
            "recommendationSource": SMART_OFFERS,
            "timeFrame": "TODAY",
            "score": "NONE",
            "itemCount": 2,
        },
        {"recommendationSource": COLLABORATIVE, "timeFrame": "", "score": "", "itemCount": 3},
    ]
    # The key: the source, then |timeFrame and |score when not empty.
    assert params["recommendedProducts"] == {
        "RECOMMENDATION_SMART_OFFERS|TODAY|NONE": [{"productId": "P1"}],
        "RECOMMENDATION_COLLABORATIVE": [{"productId": "P1"}],
        STATIC_ITEMS: [{"productId": "S1", "name": "Gift card"}],
    }


def test_action_id_can_be_chosen(server):
    campaign = server.add_campaign(instance_id="w1", action_id="a-77")

    (action,) = post(server, [page_view()]).json()["responses"][0]

    assert campaign.action_id == "a-77"
    assert action["params"]["actionId"] == "a-77"


# What it recommends: learned from PRODUCT_VIEW events.


def test_most_viewed_products_first_ties_in_the_order_first_seen(server):
    server.add_campaign(instance_id="top", sources=[Source(SMART_OFFERS, item_count=4)])
    view_all(
        server,
        ("P1", "u1"),
        ("P2", "u1"),
        ("P3", "u2"),
        ("P4", "u2"),
        ("P2", "u2"),
        ("P5", "u3"),
        ("P4", "u3"),
        ("P3", "u3"),
        ("P2", "u3"),
    )

    body = post(server, [page_view()]).json()

    # P2 x3; P3 and P4 x2 (P3 seen first); P1 and P5 x1 (P1 seen first).
    assert recommended(body) == ["P2", "P3", "P4", "P1"]


def test_learned_products_carry_the_vendor_field_names_and_latest_values(server):
    server.add_campaign(instance_id="top", sources=[SMART_OFFERS])
    fields = {
        "title": "Blue mug",
        "url": "https://shop.example.com/p/1",
        "image": "https://shop.example.com/p/1.jpg",
        "price": 12.5,
        "oldPrice": 15,
        "brand": "Acme",
        "category": "Kitchen",
        "inStock": True,
        "pageUrl": "https://shop.example.com/p/1?ref=x",
        "currency": "TRY",
    }
    post(server, [product_view("P1", **fields)])
    post(server, [product_view("P1", user="u2", price=11.0, inStock=False)])

    (action,) = post(server, [page_view()]).json()["responses"][0]

    assert action["params"]["recommendedProducts"][SMART_OFFERS] == [
        {
            "productId": "P1",
            "name": "Blue mug",  # the event's "title": "name" is the event's own name
            "url": "https://shop.example.com/p/1",
            "image": "https://shop.example.com/p/1.jpg",
            "price": 11.0,
            "oldPrice": 15,
            "brand": "Acme",
            "category": "Kitchen",
            "inStock": False,
        }
    ]


def test_the_product_an_event_is_about_is_never_recommended(server):
    server.add_campaign(instance_id="top", sources=[Source(SMART_OFFERS, item_count=3)])
    view_all(server, ("P1", "u1"), ("P1", "u2"), ("P2", "u1"), ("P3", "u2"))

    body = post(server, [product_view("P1", user="u9"), page_view(user="u9")]).json()

    # The PRODUCT_VIEW is about P1; so is the PAGE_VIEW sent with it by the
    # same visitor (the product page's own view).
    assert recommended(body, event_index=0) == ["P2", "P3"]
    assert recommended(body, event_index=1) == ["P2", "P3"]


def test_a_page_view_without_a_product_of_its_visitor_in_the_batch_excludes_nothing(server):
    server.add_campaign(instance_id="top", sources=[Source(SMART_OFFERS, item_count=3)])
    view_all(server, ("P1", "u1"), ("P1", "u2"), ("P2", "u1"))

    body = post(server, [product_view("P2", user="u8"), page_view(user="u9")]).json()

    assert recommended(body, event_index=0) == ["P1"]
    assert recommended(body, event_index=1) == ["P1", "P2"]


def test_viewed_together_ranks_by_visitors_who_viewed_both_then_fills_with_most_viewed(server):
    server.add_campaign(instance_id="also", sources=[Source(COLLABORATIVE, item_count=4)])
    view_all(
        server,
        ("A", "u1"),
        ("B", "u1"),
        ("C", "u1"),
        ("A", "u2"),
        ("C", "u2"),
        ("A", "u2"),  # a second view by the same visitor is still one visitor
        ("D", "u3"),
        ("D", "u4"),
        ("D", "u5"),
        ("E", "u6"),
    )

    body = post(server, [product_view("A", user="u7")]).json()

    # C (u1, u2), B (u1); then the most viewed others: D (x3), E (x1).
    assert recommended(body, key=COLLABORATIVE) == ["C", "B", "D", "E"]


def test_viewed_together_falls_back_to_most_viewed_without_a_product(server):
    server.add_campaign(instance_id="also", sources=[Source(COLLABORATIVE, item_count=2)])
    view_all(server, ("A", "u1"), ("B", "u1"), ("B", "u2"), ("C", "u3"), ("C", "u4"))

    body = post(server, [page_view(user="u9")]).json()

    assert recommended(body, key=COLLABORATIVE) == ["B", "C"]


def test_item_count_limits_each_key_and_nothing_learned_means_empty_lists(server):
    server.add_campaign(
        instance_id="w",
        sources=[Source(SMART_OFFERS, "TODAY", item_count=1), Source(COLLABORATIVE, item_count=2)],
        elimination="NO_ELIMINATION",
    )

    empty = post(server, [page_view()]).json()
    view_all(server, ("P1", "u1"), ("P2", "u1"), ("P3", "u1"))
    full = post(server, [page_view()]).json()

    assert empty["responses"][0][0]["params"]["recommendedProducts"] == {
        "RECOMMENDATION_SMART_OFFERS|TODAY": [],
        COLLABORATIVE: [],
        STATIC_ITEMS: [],
    }
    assert recommended(full, key="RECOMMENDATION_SMART_OFFERS|TODAY") == ["P1"]
    assert recommended(full, key=COLLABORATIVE) == ["P1", "P2"]


def test_eliminating_duplicates_each_key_brings_as_many_more_as_listed_before_it(server):
    server.add_campaign(
        instance_id="w",
        sources=[Source(COLLABORATIVE, item_count=2), Source(SMART_OFFERS, item_count=2)],
        static_products=[{"productId": "S1"}],
    )
    view_all(server, *((f"P{n}", "u1") for n in range(1, 8)))

    body = post(server, [page_view(user="u9")]).json()

    # 1 static item before the first key: 2 + 1; then 2 more: 2 + 3.
    assert recommended(body, key=COLLABORATIVE) == ["P1", "P2", "P3"]
    assert recommended(body, key=SMART_OFFERS) == ["P1", "P2", "P3", "P4", "P5"]


def test_the_packages_own_reader_builds_full_widgets_from_the_answer():
    from dengage_django.decisions.widgets import decisions_from_answer

    with FakeDengageServer(success_status_code="SUCCESS") as fake:
        fake.add_campaign(
            instance_id="also",
            title="You may also like",
            sources=[Source(COLLABORATIVE, item_count=2), Source(SMART_OFFERS, item_count=2)],
            static_products=[{"productId": "GIFT", "name": "Gift card"}],
        )
        view_all(fake, ("A", "u1"), ("B", "u1"), ("C", "u2"), ("C", "u3"), ("D", "u4"))
        events = [product_view("A", user="u9"), page_view(user="u9")]
        answer = post(fake, events).json()

    decisions = decisions_from_answer(answer, len(events))

    assert answer["statusCode"] == "SUCCESS"
    (widget,) = decisions.widgets  # one widget though two events were answered
    assert (widget.instance_id, widget.action_id, widget.title) == (
        "also",
        "act_also",
        "You may also like",
    )
    # The static item, B (viewed with A) then C (most viewed); then D, the only
    # most viewed product not listed yet.
    assert ids(widget.products) == ["GIFT", "B", "C", "D"]


def test_success_status_code_is_absent_unless_asked_for(server):
    assert "statusCode" not in post(server, [page_view()]).json()

    server.set_success_status_code("SUCCESS")
    assert post(server, [page_view()]).json()["statusCode"] == "SUCCESS"
    assert server.requests[-1].status_code == "SUCCESS"

    server.set_success_status_code(None)
    assert "statusCode" not in post(server, [page_view()]).json()
    with pytest.raises(ValueError):
        server.set_success_status_code("")


def test_a_source_the_fake_does_not_know_answers_an_empty_list(server):
    server.add_campaign(
        instance_id="w", sources=[("RECOMMENDATION_SOURCE_LAST_VISITED", "", "", 5)]
    )
    view_all(server, ("P1", "u1"))

    params = post(server, [page_view()]).json()["responses"][0][0]["params"]

    assert params["recommendedProducts"]["RECOMMENDATION_SOURCE_LAST_VISITED"] == []


def test_static_products_are_answered_as_given(server):
    statics = [
        {"productId": "S1", "name": "Caf&eacute; mug", "price": 9.9},
        {"productId": "S2", "url": "https://shop.example.com/s2"},
    ]
    server.add_campaign(instance_id="w", static_products=statics)

    body = post(server, [page_view()]).json()

    assert body["responses"][0][0]["params"]["recommendedProducts"] == {STATIC_ITEMS: statics}
    assert json.loads(body["responses"][0][0]["params"]["dynamicItems"]) == []


# Which events a campaign answers.


def test_campaigns_answer_only_their_event_names(server):
    server.add_campaign(instance_id="pdp", events=["PRODUCT_VIEW"])
    server.add_campaign(instance_id="search", events="SEARCH")

    body = post(
        server,
        [page_view(), product_view("P1"), {**page_view(), "name": "SEARCH", "query": "mug"}],
    ).json()

    assert body["campaigns"] == [[], ["pdp"], ["search"]]


def test_page_categories_restrict_a_campaign_to_events_of_those_categories(server):
    server.add_campaign(instance_id="home", page_categories=["Home Page"])

    body = post(
        server,
        [page_view(category="Home Page"), page_view(category="Category Page"), page_view()],
    ).json()

    assert body["campaigns"] == [["home"], [], []]
    assert [len(actions) for actions in body["responses"]] == [1, 0, 0]


def test_campaigns_answer_in_the_order_added_and_the_same_id_replaces(server):
    server.add_campaign(instance_id="a", title="First")
    server.add_campaign(instance_id="b")
    server.add_campaign(instance_id="a", title="Replaced")

    body = post(server, [page_view()]).json()

    assert body["campaigns"] == [["a", "b"]]
    assert body["responses"][0][0]["params"]["notificationTitle"] == "Replaced"
    assert [c.instance_id for c in server.campaigns] == ["a", "b"]


def test_remove_and_clear_campaigns(server):
    server.add_campaign(instance_id="a")
    server.add_campaign(instance_id="b")

    server.remove_campaign("a")
    assert post(server, [page_view()]).json()["campaigns"] == [["b"]]
    with pytest.raises(KeyError):
        server.remove_campaign("a")

    server.clear_campaigns()
    assert post(server, [page_view()]).json()["campaigns"] == [[]]


def test_campaigns_and_delay_given_to_the_constructor():
    campaign = Campaign(instance_id="w", sources=[SMART_OFFERS])
    with FakeDengageServer(campaigns=[campaign], delay=0.05) as fake:
        started = time.monotonic()
        body = post(fake, [page_view()]).json()
        elapsed = time.monotonic() - started

        assert fake.campaigns == [campaign]
        assert fake.delay == 0.05
    assert body["campaigns"] == [["w"]]
    assert elapsed >= 0.05


def test_reset_forgets_what_was_learned_but_keeps_the_campaigns(server):
    server.add_campaign(instance_id="top", sources=[SMART_OFFERS])
    view_all(server, ("P1", "u1"))

    server.reset()
    body = post(server, [page_view()]).json()

    assert body["campaigns"] == [["top"]]
    assert recommended(body) == []


def test_a_refused_batch_teaches_nothing(server):
    server.add_campaign(instance_id="top", sources=[SMART_OFFERS])
    server.fail_next(status=503)
    assert post(server, [product_view("P1")]).status_code == 503
    server.reject_events(lambda event: event.get("productId") == "P2")
    assert post(server, [product_view("P2")]).json()["statusCode"] == "BAD_INPUT"
    server.clear_rules()

    view_all(server, ("P3", "u1"))
    body = post(server, [page_view()]).json()

    assert recommended(body) == ["P3"]


def test_short_responses_next_also_shortens_the_campaign_answers(server):
    server.add_campaign(instance_id="w")
    server.short_responses_next()

    body = post(server, [page_view(), page_view(), page_view()]).json()

    assert body["campaigns"] == [["w"], ["w"]]
    assert len(body["responses"]) == 2


def test_concurrent_posts_are_all_learned(server):
    server.add_campaign(instance_id="top", sources=[Source(SMART_OFFERS, item_count=3)])
    errors = []

    def visitor(n):
        try:
            for _ in range(5):
                # P-many is viewed 2 times a batch, P-some once; P-few only by visitor 0.
                batch = [product_view("P-many", f"u{n}"), product_view("P-some", f"u{n}")]
                batch.append(product_view("P-many", f"u{n}"))
                if n == 0:
                    batch.append(product_view("P-few", "u0"))
                assert post(server, batch).status_code == 200
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(server.events) == 8 * 5 * 3 + 5
    assert recommended(post(server, [page_view(user="u99")]).json()) == [
        "P-many",
        "P-some",
        "P-few",
    ]


def test_the_outbox_sender_delivers_to_a_fake_answering_campaigns(fake_server, db):
    """The sender takes an answer full of actions as the success it is."""
    from django.core.management import call_command

    from dengage_django.models import OutboxEvent

    fake_server.add_campaign(instance_id="w", sources=[SMART_OFFERS])
    dengage_django.track("PRODUCT_VIEW", userId="u1", sessionId="s", productId="P1")
    dengage_django.track("PAGE_VIEW", userId="u1", sessionId="s", category="Home Page")

    call_command("send_dengage_outbox", stdout=io.StringIO())

    assert [e["name"] for e in fake_server.events] == ["PRODUCT_VIEW", "PAGE_VIEW"]
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"sent"}


# INTERACTION events.


def test_interaction_events_are_recorded_like_any_other(server):
    server.add_campaign(instance_id="w")
    events = [
        interaction("impression", "w", "act_w"),
        interaction("click", "w", "act_w", user="u2"),
        interaction("widget-view", "other", "act_other"),
    ]

    body = post(server, [page_view(), *events]).json()

    assert body["campaigns"] == [["w"], [], [], []]  # campaigns do not answer INTERACTION
    assert server.events[1:] == events
    assert server.interactions() == events
    assert server.interactions(type="click") == [events[1]]
    assert server.interactions(instance_id="w") == events[:2]
    assert server.interactions(type="impression", instance_id="other") == []
    listed = requests.get(f"{server.url}/_fake/events", params={"name": "INTERACTION"}, timeout=5)
    assert listed.json() == events


# Slow and failing, for the deadline tests.


def test_set_delay_slows_each_answer_and_can_change_at_runtime(server):
    server.add_campaign(instance_id="w")
    server.set_delay(0.1)

    started = time.monotonic()
    slow = post(server, [page_view()])
    elapsed = time.monotonic() - started
    server.set_delay(0)

    assert elapsed >= 0.1
    assert slow.json()["campaigns"] == [["w"]]
    assert server.delay == 0


def test_a_client_deadline_expires_on_a_slow_answer_yet_the_events_are_taken(server):
    server.delay_next(0.5)

    with pytest.raises(requests.Timeout):
        post(server, [product_view("P1")], timeout=0.1)

    assert server.wait_for_events(1)[0]["productId"] == "P1"


def test_delay_over_http(server):
    answer = requests.post(f"{server.url}/_fake/delay", json={"seconds": 0.1}, timeout=5)
    assert answer.status_code == 200
    assert server.delay == 0.1

    started = time.monotonic()
    post(server, [page_view()])
    assert time.monotonic() - started >= 0.1

    requests.post(f"{server.url}/_fake/delay", json={"seconds": 0}, timeout=5)
    requests.post(f"{server.url}/_fake/delay", json={"seconds": 0.2, "count": 1}, timeout=5)
    assert server.delay == 0
    started = time.monotonic()
    post(server, [page_view()])
    assert time.monotonic() - started >= 0.2


def test_fail_over_http_fails_the_next_posts_then_recovers(server):
    answer = requests.post(
        f"{server.url}/_fake/fail", json={"count": 2, "status": 503, "retry_after": 7}, timeout=5
    )
    assert answer.status_code == 200

    first, second, third = (post(server, [page_view()]) for _ in range(3))

    assert (first.status_code, first.headers["Retry-After"]) == (503, "7")
    assert second.status_code == 503
    assert third.status_code == 200
    assert len(server.events) == 1


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/_fake/delay", {"seconds": -1}, "seconds"),
        ("/_fake/delay", {"seconds": "slow"}, "seconds"),
        ("/_fake/delay", [], "object"),
        ("/_fake/fail", {"count": 0}, "count"),
        ("/_fake/fail", {"status": 200}, "status"),
        ("/_fake/fail", {"endpoint": "nowhere"}, "endpoint"),
        ("/_fake/fail", {"sometimes": True}, "sometimes"),
    ],
)
def test_bad_control_requests_are_400_with_the_reason(server, path, body, message):
    answer = requests.post(f"{server.url}{path}", json=body, timeout=5)

    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert server.delay == 0
    assert post(server, [page_view()]).status_code == 200


# Configuration over HTTP, from JSON, from the command line.


def test_campaigns_over_http(server):
    config = [
        {
            "instance_id": "also",
            "title": "You may also like",
            "sources": [
                {"name": COLLABORATIVE, "item_count": 2},
                [SMART_OFFERS, "TODAY", "NONE", 1],
                SMART_OFFERS,
            ],
            "events": ["PRODUCT_VIEW"],
        },
        {"instance_id": "home", "page_categories": ["Home Page"], "action_id": "a1"},
    ]

    added = requests.post(f"{server.url}/_fake/campaigns", json=config, timeout=5)
    one = requests.post(f"{server.url}/_fake/campaigns", json={"instance_id": "x"}, timeout=5)
    listed = requests.get(f"{server.url}/_fake/campaigns", timeout=5).json()

    assert added.status_code == one.status_code == 200
    assert [c["instance_id"] for c in added.json()] == ["also", "home"]
    assert [c["instance_id"] for c in listed] == ["also", "home", "x"]
    assert listed[0]["sources"] == [
        {"name": COLLABORATIVE, "time_frame": "", "score": "", "item_count": 2},
        {"name": SMART_OFFERS, "time_frame": "TODAY", "score": "NONE", "item_count": 1},
        {"name": SMART_OFFERS, "time_frame": "", "score": "", "item_count": 4},
    ]
    assert listed[0]["action_id"] == "act_also"
    assert listed[1]["action_id"] == "a1"
    assert [Campaign.from_dict(c) for c in listed] == server.campaigns

    body = post(server, [product_view("P1"), page_view(category="Home Page")]).json()
    assert body["campaigns"] == [["also", "x"], ["home", "x"]]

    cleared = requests.delete(f"{server.url}/_fake/campaigns", timeout=5)
    assert cleared.status_code == 200
    assert server.campaigns == []


def test_a_malformed_campaign_over_http_is_400_and_adds_nothing(server):
    config = [{"instance_id": "good"}, {"instance_id": "bad", "elimination": "SOMETIMES"}]

    answer = requests.post(f"{server.url}/_fake/campaigns", json=config, timeout=5)
    not_json = requests.post(f"{server.url}/_fake/campaigns", data=b"{nope", timeout=5)

    assert answer.status_code == 400
    assert "bad" in answer.json()["error"] and "SOMETIMES" in answer.json()["error"]
    assert not_json.status_code == 400
    assert "JSON" in not_json.json()["error"]
    assert server.campaigns == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "instance_id"),
        ({"instance_id": ""}, "instance_id"),
        ({"instance_id": 7}, "instance_id"),
        ({"instance_id": "w", "titel": "x"}, "unknown field 'titel'"),
        ({"instance_id": "w", "elimination": "SOMETIMES"}, "elimination"),
        ({"instance_id": "w", "sources": 5}, "sources"),
        ({"instance_id": "w", "sources": {"name": SMART_OFFERS}}, "sources"),
        ({"instance_id": "w", "sources": [[SMART_OFFERS, "", "", 0]]}, "item_count"),
        ({"instance_id": "w", "sources": [[SMART_OFFERS, "", "", True]]}, "item_count"),
        ({"instance_id": "w", "sources": [[SMART_OFFERS, "", "", 4, 5]]}, "source"),
        ({"instance_id": "w", "sources": [{"name": ""}]}, "name"),
        ({"instance_id": "w", "sources": [{"name": SMART_OFFERS, "count": 3}]}, "count"),
        ({"instance_id": "w", "sources": [7]}, "source"),
        ({"instance_id": "w", "static_products": [{"name": "no id"}]}, "productId"),
        ({"instance_id": "w", "static_products": ["S1"]}, "static_products"),
        ({"instance_id": "w", "events": []}, "events"),
        ({"instance_id": "w", "events": ["PAGE_VIEW", 3]}, "events"),
        ({"instance_id": "w", "page_categories": [None]}, "page_categories"),
        ({"instance_id": "w", "action_id": ""}, "action_id"),
        ({"instance_id": "w", "title": None}, "title"),
    ],
)
def test_a_malformed_campaign_is_refused_with_a_clear_error(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Campaign.from_dict(config)


def test_a_campaign_is_given_either_whole_or_as_fields(server):
    with pytest.raises(TypeError):
        server.add_campaign(Campaign(instance_id="w"), title="x")
    with pytest.raises(ValueError, match="elimination"):
        server.add_campaign(instance_id="w", elimination="NEVER")
    with pytest.raises(ValueError, match="object"):
        Campaign.from_dict(["not", "a", "mapping"])
    assert server.campaigns == []


def test_campaign_to_dict_round_trips_through_json():
    campaign = Campaign(
        instance_id="w",
        title="T",
        sources=[Source(SMART_OFFERS, "TODAY", "NONE", 3)],
        static_products=[{"productId": "S1"}],
        elimination="ELIMINATE_PREVIOUS",
        events=["PRODUCT_VIEW"],
        page_categories=["Product Page"],
    )

    assert Campaign.from_dict(json.loads(json.dumps(campaign.to_dict()))) == campaign
    assert campaign.sources == (Source(SMART_OFFERS, "TODAY", "NONE", 3),)
    assert campaign.events == ("PRODUCT_VIEW",)
    # A single name stands for a list of one.
    one = Campaign(instance_id="w", sources=SMART_OFFERS, events="SEARCH", page_categories="Hub")
    assert (one.sources, one.events, one.page_categories) == (
        (Source(SMART_OFFERS),),
        ("SEARCH",),
        ("Hub",),
    )
    assert Source(SMART_OFFERS, "TODAY", "").key == "RECOMMENDATION_SMART_OFFERS|TODAY"
    assert Source(SMART_OFFERS, "", "NONE").key == "RECOMMENDATION_SMART_OFFERS|NONE"


def start_cli(*args):
    """Start ``python -m dengage_django.testing`` on a free port; return it and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dengage_django.testing", "--port", "0", "--origin", "*", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    banner = process.stdout.readline()
    match = re.match(r"Fake Dengage data center on (http://127\.0\.0\.1:\d+) ", banner)
    if not match:
        process.kill()
        process.wait()
        pytest.fail(f"no banner: {banner!r} {process.stderr.read()!r}")
    return process, match.group(1)


def stop_cli(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()
    process.stdout.close()
    process.stderr.close()


def test_command_line_campaigns_from_a_file_and_inline_and_a_delay(tmp_path):
    path = tmp_path / "campaigns.json"
    path.write_text(json.dumps([{"instance_id": "also", "sources": [SMART_OFFERS]}]))
    inline = json.dumps({"instance_id": "home", "events": ["PAGE_VIEW"], "title": "Hello"})

    process, url = start_cli(
        "--campaigns",
        str(path),
        "--campaign",
        inline,
        "--delay",
        "0.05",
        "--success-status-code",
        "SUCCESS",
    )
    try:
        assert process.stdout.readline().startswith("Campaign also ")
        assert process.stdout.readline().startswith("Campaign home ")
        started = time.monotonic()
        response = requests.post(
            f"{url}/add/events/v1.json",
            params={"apiKey": DEFAULT_API_KEY},
            json=[product_view("P1"), page_view(user="u2")],
            timeout=5,
        )
        elapsed = time.monotonic() - started
        line = process.stdout.readline()

        assert response.json()["campaigns"] == [["also"], ["also", "home"]]
        assert response.json()["statusCode"] == "SUCCESS"
        assert recommended(response.json(), event_index=1) == ["P1"]
        assert elapsed >= 0.05
        assert line.startswith("PRODUCT_VIEW ")
        listed = requests.get(f"{url}/_fake/campaigns", timeout=5).json()
        assert [c["instance_id"] for c in listed] == ["also", "home"]
    finally:
        stop_cli(process)


def test_command_line_prints_interactions():
    process, url = start_cli()
    try:
        requests.post(
            f"{url}/add/events/v1.json",
            params={"apiKey": DEFAULT_API_KEY},
            json=[interaction("click", "w", "act_w")],
            timeout=5,
        )
        line = process.stdout.readline()
    finally:
        stop_cli(process)

    assert line.startswith("INTERACTION ")
    assert "type=click" in line and "instanceId=w" in line and "interactionId=act_w" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", '{"instance_id": "w", "elimination": "NEVER"}'], "elimination"),
        (["--campaign", "{not json"], "JSON"),
        (["--campaigns", "/no/such/file.json"], "/no/such/file.json"),
        (["--delay", "-1"], "--delay"),
    ],
)
def test_command_line_refuses_a_bad_configuration(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "dengage_django.testing", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
