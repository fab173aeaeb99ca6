"""INTERACTION and SEARCH: their schemas, ``dengage_django.track`` and the
``request.dengage.interaction()`` / ``search()`` helpers (sync, async, and
through the middleware), bad input at every entry point in strict and
lenient mode, the visitor's search text cleaned and capped, and delivery.
"""

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import SynchronousOnlyOperation
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.urls import path
from django.utils.translation import gettext_lazy

import dengage_django
from dengage_django.admin import EventNameFilter
from dengage_django.delivery.sender import Sender
from dengage_django.events import EVENT_NAMES, build_event, encode_event
from dengage_django.exceptions import DengageError, DengageValidationError
from dengage_django.models import OutboxEvent
from dengage_django.testing import capture_events
from dengage_django.tracking.tracker import Tracker

from .test_tracking import DESKTOP, GOOGLEBOT

pytestmark = pytest.mark.django_db

IDS = {"userId": "u1", "sessionId": "s1"}
CLICK = {"type": "click", "instanceId": "SMRT_1", "interactionId": "act_2"}
TYPE_FORMAT = "must be an interaction type like 'impression', 'widget-view' or 'click'"


def stored():
    return list(OutboxEvent.objects.order_by("id").values_list("name", "status"))


def tracker(url="/search/?q=shoes", user_agent=DESKTOP, **kwargs):
    return Tracker(RequestFactory().get(url, HTTP_USER_AGENT=user_agent), **kwargs)


# --- The schemas -------------------------------------------------------------


def test_both_are_event_names_after_the_guides_six():
    # The whole tuple: tests/test_events.py::test_event_names.
    assert EVENT_NAMES[6:] == ("INTERACTION", "SEARCH")
    with pytest.raises(DengageValidationError, match="CUSTOM_EVENT, INTERACTION, SEARCH"):
        build_event("SEARCHES", {**IDS, "query": "x"})


def test_interaction_wire_output_is_exact():
    fields = {
        "interactionId": "act_2",
        "instanceId": "SMRT_1",
        "type": "impression",
        "pageUrl": "https://shop.example.com/p/1/",
        "device": "pc",
        **IDS,
    }
    event = build_event("INTERACTION", fields)
    assert list(event.items()) == [
        ("name", "INTERACTION"),
        ("userId", "u1"),
        ("sessionId", "s1"),
        ("device", "PC"),
        ("pageUrl", "https://shop.example.com/p/1/"),
        ("type", "impression"),
        ("instanceId", "SMRT_1"),
        ("interactionId", "act_2"),
    ]
    assert encode_event(event) == (
        b'{"name":"INTERACTION","userId":"u1","sessionId":"s1","device":"PC",'
        b'"pageUrl":"https://shop.example.com/p/1/","type":"impression",'
        b'"instanceId":"SMRT_1","interactionId":"act_2"}'
    )


def test_search_wire_output_is_exact():
    event = build_event("SEARCH", {"params": {"page": 2}, "query": "running shoes", **IDS})
    assert encode_event(event) == (
        b'{"name":"SEARCH","userId":"u1","sessionId":"s1","query":"running shoes",'
        b'"params":{"page":2}}'
    )


def test_snake_case_aliases():
    event = build_event(
        "INTERACTION",
        {
            "user_id": "u1",
            "session_id": "s1",
            "type": "click",
            "instance_id": 7,
            "interaction_id": 8,
        },
    )
    assert event == {
        "name": "INTERACTION",
        **IDS,
        "type": "click",
        "instanceId": "7",
        "interactionId": "8",
    }
    with pytest.raises(DengageValidationError) as info:
        build_event("INTERACTION", {**IDS, **CLICK, "instance_id": "SMRT_1"})
    assert info.value.field == "instanceId"
    assert info.value.message == "given twice, as 'instanceId' and 'instance_id'"


def test_interaction_id_is_optional():
    without = {**IDS, "type": "impression", "instanceId": "SMRT_1"}
    assert "interactionId" not in build_event("INTERACTION", without)
    assert "interactionId" not in build_event("INTERACTION", {**without, "interactionId": None})


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("impression", "impression"),
        (" widget-view\n", "widget-view"),
        ("Click", "Click"),  # the vendor's strings as given: no case change
        ("basket_add.v2", "basket_add.v2"),
        ("x" * 64, "x" * 64),
        (gettext_lazy("click"), "click"),
    ],
)
def test_interaction_type_is_kept_as_given_but_stripped(given, sent):
    event = build_event("INTERACTION", {**IDS, **CLICK, "type": given})
    assert event["type"] == sent


def test_search_query_is_stripped_but_otherwise_kept():
    event = build_event("SEARCH", {**IDS, "query": "  Café 😀 <b>Ürün</b> & co \n"})
    assert event["query"] == "Café 😀 <b>Ürün</b> & co"


def test_unknown_field_suggests_the_right_name():
    with pytest.raises(DengageValidationError, match=r"did you mean 'query'\?"):
        build_event("SEARCH", {**IDS, "querry": "shoes"})
    with pytest.raises(DengageValidationError, match=r"did you mean 'instance_id'\?"):
        build_event("INTERACTION", {**IDS, **CLICK, "instance_idd": "x"})


# Bad input: (event, fields beyond the ids, field named, message).
BAD = [
    ("INTERACTION", {"instanceId": "I"}, "type", "is required"),
    ("INTERACTION", {"type": "", "instanceId": "I"}, "type", "must not be empty"),
    ("INTERACTION", {"type": "  ", "instanceId": "I"}, "type", "must not be empty"),
    ("INTERACTION", {"type": 5, "instanceId": "I"}, "type", "must be a string, got 5"),
    ("INTERACTION", {"type": ["click"], "instanceId": "I"}, "type", "must be a string"),
    ("INTERACTION", {"type": "widget view", "instanceId": "I"}, "type", TYPE_FORMAT),
    ("INTERACTION", {"type": "click<b>", "instanceId": "I"}, "type", TYPE_FORMAT),
    ("INTERACTION", {"type": "x" * 65, "instanceId": "I"}, "type", TYPE_FORMAT),
    ("INTERACTION", {"type": "click"}, "instanceId", "is required"),
    ("INTERACTION", {"type": "click", "instanceId": ""}, "instanceId", "must not be empty"),
    ("INTERACTION", {"type": "click", "instanceId": " "}, "instanceId", "must not be empty"),
    ("INTERACTION", {"type": "click", "instanceId": 1.5}, "instanceId", "integer id, got 1.5"),
    ("INTERACTION", {"type": "click", "instanceId": True}, "instanceId", "integer id, got True"),
    ("INTERACTION", {"type": "click", "instanceId": "I" * 129}, "instanceId", "128-character"),
    ("INTERACTION", {"type": "click", "instanceId": "I", "interactionId": [1]}, "interactionId",
     "must be a string or an integer id"),
    ("SEARCH", {}, "query", "is required"),
    ("SEARCH", {"query": ""}, "query", "must not be empty"),
    ("SEARCH", {"query": " \t\n"}, "query", "must not be empty"),
    ("SEARCH", {"query": "\x00"}, "query", "must not be empty"),
    ("SEARCH", {"query": 42}, "query", "must be a string, got 42"),
    ("SEARCH", {"query": ["shoes"]}, "query", "must be a string, got ['shoes']"),
    ("SEARCH", {"query": b"shoes"}, "query", "must be a string, got b'shoes'"),
]  # fmt: skip
BAD_IDS = [
    f"{name}.{field}:{fields.get(field, 'missing')!r}"[:60] for name, fields, field, _ in BAD
]
STRICTNESS = pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])


@STRICTNESS
@pytest.mark.parametrize(("name", "fields", "field", "message"), BAD, ids=BAD_IDS)
def test_build_event_rejects_bad_input(name, fields, field, message, strict):
    with pytest.raises(DengageValidationError) as info:
        build_event(name, {**IDS, **fields}, strict=strict)
    assert (info.value.event, info.value.field) == (name, field)
    assert message in info.value.message


@STRICTNESS
@pytest.mark.parametrize(("name", "fields", "field", "message"), BAD, ids=BAD_IDS)
def test_track_rejects_bad_input(name, fields, field, message, strict, settings):
    settings.DENGAGE_STRICT = strict
    if strict:
        with pytest.raises(DengageValidationError, match=f"^{name}.{field}: "):
            dengage_django.track(name, **IDS, **fields)
        assert stored() == []
    else:
        event = dengage_django.track(name, **IDS, **fields)
        assert (event.name, event.status) == (name, "invalid")
        assert event.last_error.startswith(f"{name}.{field}: ") and message in event.last_error
        assert stored() == [(name, "invalid")]


# --- Broken and over-long text ---------------------------------------------------


@STRICTNESS
@pytest.mark.parametrize(
    ("query", "sent"),
    [
        ("shoes\x00", "shoes"),
        ("sh\x00oes", "shoes"),
        ("shoes \ud83d", "shoes \ufffd"),
        ("\udc80 shoes", "\ufffd shoes"),
    ],
)
def test_the_visitors_broken_query_is_cleaned_in_every_mode(query, sent, strict):
    assert build_event("SEARCH", {**IDS, "query": query}, strict=strict)["query"] == sent


@STRICTNESS
def test_a_long_query_is_capped_in_every_mode(strict, settings):
    event = build_event("SEARCH", {**IDS, "query": "é" * 5000}, strict=strict)
    assert event["query"] == "é" * 2048  # DENGAGE_MAX_STRING_LENGTH's default
    settings.DENGAGE_MAX_STRING_LENGTH = 10
    event = build_event("SEARCH", {**IDS, "query": "  " + "shoes " * 10}, strict=strict)
    assert event["query"] == "shoes shoe"
    event = build_event("SEARCH", {**IDS, "query": "shoes" + " " * 8 + "x"}, strict=strict)
    assert event["query"] == "shoes"  # cut, then stripped


@pytest.mark.parametrize("field", ["type", "instanceId", "interactionId"])
@pytest.mark.parametrize(
    ("bad", "cleaned", "what"),
    [("click\x00", "click", "NUL character"), ("click\ud83d", None, "lone surrogate")],
    ids=["nul", "surrogate"],
)
def test_broken_interaction_fields_are_an_error_when_strict_cleaned_when_lenient(
    field, bad, cleaned, what
):
    fields = {**IDS, **CLICK, field: bad}
    with pytest.raises(DengageValidationError) as info:
        build_event("INTERACTION", fields)
    assert info.value.field == field and what in info.value.message
    if field == "type" and cleaned is None:  # U+FFFD is no interaction type
        with pytest.raises(DengageValidationError, match=TYPE_FORMAT):
            build_event("INTERACTION", fields, strict=False)
    else:
        expected = cleaned or "click\ufffd"
        assert build_event("INTERACTION", fields, strict=False)[field] == expected


# --- dengage_django.track -------------------------------------------------------


def test_track_stores_both_in_the_outbox_and_delivers_them(fake_server):
    click = dengage_django.track(
        "INTERACTION", user_id="u1", session_id="s1", type="click", instance_id="SMRT_1",
        interaction_id="act_2",
    )  # fmt: skip
    search = dengage_django.track("SEARCH", user_id="u1", session_id="s1", query=" shoes ")
    assert click.payload == {"name": "INTERACTION", **IDS, **CLICK}
    assert search.payload == {"name": "SEARCH", **IDS, "query": "shoes"}
    assert stored() == [("INTERACTION", "pending"), ("SEARCH", "pending")]
    report = Sender().drain()
    assert report.sent == 2
    assert fake_server.events == [click.payload, search.payload]
    assert stored() == [("INTERACTION", "sent"), ("SEARCH", "sent")]


def test_capture_and_the_admin_filter_know_both():
    with capture_events() as events:
        dengage_django.track("SEARCH", **IDS, query="hat")
    assert events.one("SEARCH", query="hat")["userId"] == "u1"
    lookups = EventNameFilter(None, {}, OutboxEvent, None).lookups(None, None)
    assert ("INTERACTION", "INTERACTION") in lookups and ("SEARCH", "SEARCH") in lookups


# --- request.dengage.interaction() / search() -------------------------------------


def test_interaction_helper_records_the_wire_event():
    t = tracker("/p/1/?ref=x")
    event = t.interaction("widget-view", instance_id="SMRT_1", interaction_id="act_2")
    assert event.status == "pending"
    assert list(event.payload.items()) == [
        ("name", "INTERACTION"),
        ("userId", t.user_id),
        ("sessionId", t.session_id),
        ("device", "PC"),
        ("pageUrl", "http://testserver/p/1/?ref=x"),
        ("lang", "en"),
        ("type", "widget-view"),
        ("instanceId", "SMRT_1"),
        ("interactionId", "act_2"),
    ]
    assert t.events == [event]
    assert stored() == [("INTERACTION", "pending")]


def test_search_helper_records_the_wire_event():
    t = tracker()
    event = t.search("shoes", params={"results": 12})
    assert event.payload == {
        "name": "SEARCH",
        "userId": t.user_id,
        "sessionId": t.session_id,
        "device": "PC",
        "pageUrl": "http://testserver/search/?q=shoes",
        "lang": "en",
        "query": "shoes",
        "params": {"results": 12},
    }
    assert t.search(query="hats").payload["query"] == "hats"  # by keyword too
    assert stored() == [("SEARCH", "pending"), ("SEARCH", "pending")]


def test_helpers_take_more_fields_and_the_interaction_id_is_optional():
    t = tracker()
    event = t.interaction("impression", instance_id=99, page_url="https://x.example/", region="EU")
    assert event.payload["instanceId"] == "99" and "interactionId" not in event.payload
    assert (event.payload["pageUrl"], event.payload["region"]) == ("https://x.example/", "EU")
    with pytest.raises(TypeError):
        t.interaction("click", "SMRT_1")  # instance_id is keyword-only


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (lambda t: t.interaction("", instance_id="I"), "type", "must not be empty"),
        (lambda t: t.interaction(None, instance_id="I"), "type", "is required"),
        (lambda t: t.interaction(3, instance_id="I"), "type", "must be a string"),
        (lambda t: t.interaction("a b", instance_id="I"), "type", TYPE_FORMAT),
        (lambda t: t.interaction("click", instance_id=None), "instanceId", "is required"),
        (lambda t: t.interaction("click", instance_id=""), "instanceId", "must not be empty"),
        (lambda t: t.interaction("click", instance_id=[1]), "instanceId", "integer id"),
        (
            lambda t: t.interaction("click", instance_id="I", interaction_id={"a": 1}),
            "interactionId",
            "integer id",
        ),
        (
            lambda t: t.interaction("click", instance_id="I", instanceId="J"),
            "instanceId",
            "given twice",
        ),
        (lambda t: t.interaction("click", instance_id="I", colour="red"), "colour", "unknown"),
        (lambda t: t.search(None), "query", "is required"),
        (lambda t: t.search(""), "query", "must not be empty"),
        (lambda t: t.search("   "), "query", "must not be empty"),
        (lambda t: t.search(42), "query", "must be a string"),
        (lambda t: t.search({"q": "x"}), "query", "must be a string"),
        (lambda t: t.search("x", device="FRIDGE"), "device", "must be one of"),
    ],
)
@STRICTNESS
def test_helpers_reject_bad_input(call, field, message, strict, settings):
    settings.DENGAGE_STRICT = strict
    t = tracker()
    name = "SEARCH" if field == "query" or field == "device" else "INTERACTION"
    if strict:
        with pytest.raises(DengageValidationError) as info:
            call(t)
        assert (info.value.event, info.value.field) == (name, field)
        assert message in info.value.message
        assert stored() == [] and t.events == []
    else:
        event = call(t)
        assert (event.name, event.status) == (name, "invalid")
        assert event.last_error.startswith(f"{name}.{field}: ") and message in event.last_error
        assert event.payload["userId"] == t.user_id  # the raw input, kept for the admin
        assert stored() == [(name, "invalid")]


def test_the_helpers_search_text_is_cleaned_and_capped_even_when_strict(settings):
    t = tracker()
    assert t.search("running\x00 shoes\ud83d").payload["query"] == "running shoes\ufffd"
    settings.DENGAGE_MAX_STRING_LENGTH = 8
    assert t.search("x" * 100).payload["query"] == "x" * 8
    assert stored() == [("SEARCH", "pending"), ("SEARCH", "pending")]


@pytest.mark.parametrize(
    "make",
    [
        lambda settings: tracker(user_agent=GOOGLEBOT),
        lambda settings: tracker("/static/search/"),
        lambda settings: setattr(settings, "DENGAGE_ENABLED", False) or tracker(),
    ],
    ids=["bot", "excluded path", "disabled"],
)
def test_an_untracked_request_records_nothing_even_bad_input(make, settings):
    t = make(settings)
    assert not t.active
    assert t.interaction("click", instance_id="SMRT_1", interaction_id="a") is None
    assert t.search("shoes") is None
    assert t.search("") is None  # no validation either: nothing is recorded, nothing raised
    assert t.interaction("", instance_id=None) is None
    assert async_to_sync(t.asearch)("shoes") is None
    assert not t.identity.resolved  # no ids minted for it
    assert stored() == [] and t.events == []


def test_deferred_helpers_are_stored_with_the_response():
    t = tracker(deferred=True)
    t.search("shoes")
    t.interaction("click", instance_id="SMRT_1", interaction_id="act_2")
    assert stored() == [] and t.has_pending()
    assert t.flush() == []
    assert stored() == [("SEARCH", "pending"), ("INTERACTION", "pending")]


def test_async_forms_record_like_the_sync_ones():
    t = tracker()
    click = async_to_sync(t.ainteraction)("click", instance_id="SMRT_1", interaction_id="act_2")
    search = async_to_sync(t.asearch)("shoes", params={"page": 1})
    assert {key: click.payload[key] for key in CLICK} == CLICK
    assert (search.payload["query"], search.payload["params"]) == ("shoes", {"page": 1})
    assert stored() == [("INTERACTION", "pending"), ("SEARCH", "pending")]
    with pytest.raises(DengageValidationError, match=r"^SEARCH\.query: must not be empty"):
        async_to_sync(t.asearch)(" ")


@pytest.mark.parametrize(
    ("call", "async_form"),
    [
        (lambda t: t.search("shoes"), "asearch"),
        (lambda t: t.interaction("click", instance_id="I"), "ainteraction"),
    ],
)
def test_a_sync_helper_on_the_event_loop_names_its_async_form(
    call, async_form, monkeypatch, settings
):
    def on_the_loop(self, *args, **kwargs):
        raise SynchronousOnlyOperation("You cannot call this from an async context")

    monkeypatch.setattr(Tracker, "_record", on_the_loop)
    t = tracker()
    with pytest.raises(DengageError, match=rf"await request\.dengage\.{async_form}\(\.\.\.\)"):
        call(t)
    settings.DENGAGE_STRICT = False
    assert call(t) is None


# --- Through the middleware ----------------------------------------------------------


def search_view(request):
    request.dengage.page("Search Page")
    request.dengage.search(request.GET.get("q", ""))
    return HttpResponse("<p>results</p>")


def landing_view(request):
    request.dengage.interaction(
        request.GET["action"],
        instance_id=request.GET.get("campaign"),
        interaction_id=request.GET.get("source"),
    )
    return HttpResponse("<p>product</p>")


async def async_search_view(request):
    await request.dengage.asearch(request.GET.get("q", ""))
    await request.dengage.ainteraction("impression", instance_id="SMRT_1", interaction_id="a1")
    return HttpResponse("<p>results</p>")


urlpatterns = [
    path("search/", search_view),
    path("landing/", landing_view),
    path("async-search/", async_search_view),
]


@pytest.fixture
def browser(settings):
    settings.ROOT_URLCONF = __name__
    return Client(headers={"user-agent": DESKTOP})


def payloads(name=None):
    rows = OutboxEvent.objects.order_by("id")
    return [row.payload for row in (rows.filter(name=name) if name else rows)]


def test_a_search_page_through_the_middleware(browser):
    response = browser.get("/search/", {"q": "  red shoes "})
    assert response.status_code == 200
    page, search = payloads()
    assert (page["name"], page["category"]) == ("PAGE_VIEW", "Search Page")
    assert search == {
        "name": "SEARCH",
        "userId": response.cookies["dengage_uid"].value,
        "sessionId": page["sessionId"],
        "device": "PC",
        "pageUrl": "http://testserver/search/?q=++red+shoes+",
        "lang": "en",
        "query": "red shoes",
    }


def test_a_click_landing_through_the_middleware(browser):
    browser.get("/landing/", {"action": "click", "campaign": "SMRT_1", "source": "act_2"})
    page, click = payloads()
    assert page["name"] == "PAGE_VIEW"
    assert {key: click[key] for key in ("name", "userId", *CLICK)} == {
        "name": "INTERACTION",
        "userId": page["userId"],
        **CLICK,
    }


def test_a_visitors_broken_query_never_breaks_the_page_even_when_strict(browser, settings):
    settings.DENGAGE_MAX_STRING_LENGTH = 20
    # A NUL, and a byte that is no UTF-8 (a lone surrogate cannot come in a URL).
    response = browser.get("/search/?q=sh%00oes%FF" + "!" * 50)
    assert response.status_code == 200
    assert payloads("SEARCH")[0]["query"] == "shoes\ufffd" + "!" * 14


def test_bad_input_through_the_middleware_raises_when_strict(browser):
    with pytest.raises(DengageValidationError, match=r"^SEARCH\.query: must not be empty"):
        browser.get("/search/", {"q": " "})
    with pytest.raises(DengageValidationError, match=r"^INTERACTION\.instanceId: is required"):
        browser.get("/landing/", {"action": "click"})
    assert stored() == []


def test_bad_input_through_the_middleware_is_kept_invalid_when_lenient(browser, lenient):
    assert browser.get("/search/").status_code == 200
    assert browser.get("/landing/", {"action": "wid get", "campaign": "C"}).status_code == 200
    assert stored() == [
        ("PAGE_VIEW", "pending"),
        ("SEARCH", "invalid"),
        ("PAGE_VIEW", "pending"),
        ("INTERACTION", "invalid"),
    ]
    errors = OutboxEvent.objects.filter(status="invalid").order_by("id")
    assert [row.last_error for row in errors] == [
        "SEARCH.query: must not be empty",
        f"INTERACTION.type: {TYPE_FORMAT} (letters, digits, '-', '_' or '.'; at most 64), "
        "got 'wid get'",
    ]


def test_a_bot_records_nothing_through_the_middleware(settings):
    settings.ROOT_URLCONF = __name__
    bot = Client(headers={"user-agent": GOOGLEBOT})
    assert bot.get("/search/", {"q": ""}).status_code == 200  # not even validated
    assert bot.get("/landing/", {"action": "click", "campaign": "C"}).status_code == 200
    assert stored() == []


def test_async_helpers_through_the_async_stack(settings):
    settings.ROOT_URLCONF = __name__
    response = async_to_sync(AsyncClient().get)(
        "/async-search/", {"q": "hats"}, headers={"user-agent": DESKTOP}
    )
    assert response.status_code == 200
    page, search, impression = payloads()
    assert [page["name"], search["name"], impression["name"]] == [
        "PAGE_VIEW",
        "SEARCH",
        "INTERACTION",
    ]
    assert search["query"] == "hats" and search["userId"] == page["userId"]
    assert (impression["type"], impression["instanceId"], impression["interactionId"]) == (
        "impression",
        "SMRT_1",
        "a1",
    )
