"""Tests for dengage_django.decisions.widgets: Dengage's answer -> widgets.

The recorded answers in ``tests/decisions_answers/`` have the shape the
vendor's web library reads (``spec/PERSONALISATION.md``). Whatever the
answer holds, reading it never raises: an unreadable part gives no widget.
"""

import copy
import dataclasses
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from dengage_django.decisions import (
    MAX_ACTIONS,
    MAX_PRODUCTS,
    MAX_WIDGETS,
    STATIC_ITEMS,
    Decisions,
    Widget,
    decisions_from_answer,
    widget_from_action,
)

ANSWERS = Path(__file__).resolve().parent / "decisions_answers"


def recorded(name):
    return json.loads((ANSWERS / f"{name}.json").read_text(encoding="utf-8"))


def ids(widget):
    return [product["productId"] for product in widget.products]


def product(pid, **fields):
    return {
        "productId": pid,
        "name": f"Product {pid}",
        "url": f"https://shop.test/{pid}/",
        **fields,
    }


def reco(
    instance_id="fw1",
    action_id="fw1_a",
    *,
    static=None,
    sources=None,
    dynamic=None,
    elimination="NO_ELIMINATION",
    ordering="NONE",
    title="Picked for you",
):
    """A ``recommendProducts`` action; ``dynamic`` is a list, encoded as the
    JSON string Dengage sends, unless it is already a string."""
    recommended = dict(sources or {})
    if static is not None:
        recommended[STATIC_ITEMS] = static
    params = {
        "instanceId": instance_id,
        "actionId": action_id,
        "actionType": "INPAGE_WIDGET",
        "notificationTitle": title,
        "elimination": elimination,
        "ordering": ordering,
        "recommendedProducts": recommended,
    }
    if dynamic is not None:
        params["dynamicItems"] = dynamic if isinstance(dynamic, str) else json.dumps(dynamic)
    return {"type": "recommendProducts", "instanceId": instance_id, "params": params}


def item(source, count, time_frame="", score=""):
    return {
        "recommendationSource": source,
        "timeFrame": time_frame,
        "score": score,
        "itemCount": count,
    }


def answer(*entries, status="SUCCESS", campaigns=True):
    """A success answer with one ``responses`` entry per event."""
    body = {"statusCode": status, "responses": list(entries), "timestamp": 1501142345512}
    if campaigns:
        body["campaigns"] = [[] for _ in entries]
    return body


def one_widget(action):
    decisions = decisions_from_answer(answer([action]), 1)
    assert decisions.ok, decisions.reason
    assert len(decisions.widgets) <= 1
    return decisions.widgets[0] if decisions.widgets else None


# --- recorded answers --------------------------------------------------------


def test_a_product_page_answer_gives_its_widget_built_as_the_vendor_builds_it():
    decisions = decisions_from_answer(recorded("product_page"), 2)

    assert decisions.ok and decisions.reason == ""
    assert bool(decisions) is True
    [widget] = decisions.widgets
    assert widget.instance_id == "fw1529483290395"
    assert widget.action_id == "fw1529483290395_act1"
    assert widget.title == "You may also like"
    # Static item first; then 3 new smart offers (the gift card, already in
    # the list, skipped); then 2 new collaborative ones (the socks skipped).
    assert ids(widget) == ["GIFT-CARD-50", "SHOE-42", "SOCK-7", "CAP-3", "SHORTS-9", "WATCH-2"]


def test_browser_only_actions_are_kept_raw_in_order():
    body = recorded("product_page")
    banner = body["responses"][0][0]
    details = body["responses"][1][1]

    decisions = decisions_from_answer(body, 2)

    assert decisions.actions == [banner, details]
    assert decisions.actions[0] is banner  # as given, not a copy
    assert all(action["type"] != "recommendProducts" for action in decisions.actions)


def test_products_keep_the_vendors_fields_with_names_decoded():
    widget = decisions_from_answer(recorded("product_page"), 2).widgets[0]
    shoe = widget.products[1]

    assert shoe["name"] == "Men's Running Shoe & Socks"
    assert shoe["brand"] == "Example Brand"
    assert shoe["price"] == 89.9 and shoe["oldPrice"] == 119.9
    assert shoe["image"] == "https://cdn.exampleshop.com/shoe-42.png"
    assert shoe["imageXS"] == "https://cdn.exampleshop.com/shoe-42-xs.png"
    assert shoe["params"] == {"material": "mesh"} and shoe["sizes"] == ["41", "42", "43"]
    assert shoe["groupId"] == "SHOE" and shoe["stockCount"] == 12


def test_product_links_carry_the_attribution_and_keep_the_raw_url():
    widget = decisions_from_answer(recorded("product_page"), 2).widgets[0]
    shoe = widget.products[1]

    assert shoe["rawUrl"] == "https://www.exampleshop.com/shoe-42/?colour=red#reviews"
    parts = urlsplit(shoe["url"])
    assert parts.path == "/shoe-42/" and parts.fragment == "reviews"
    assert parse_qsl(parts.query) == [
        ("colour", "red"),
        ("_sgm_campaign", "fw1529483290395"),
        ("_sgm_action", "click"),
        ("_sgm_source", "fw1529483290395_act1"),
    ]
    assert shoe["mUrl"].startswith("https://m.exampleshop.com/shoe-42/?_sgm_campaign=fw15294")
    assert all("_sgm_source=fw1529483290395_act1" in p["url"] for p in widget.products)


def test_the_answer_is_not_changed():
    body = recorded("product_page")
    before = copy.deepcopy(body)

    decisions_from_answer(body, 2)

    assert body == before


def test_shuffle_keeps_the_servers_order_and_no_elimination_keeps_duplicates():
    decisions = decisions_from_answer(recorded("home_page_shuffled"), 1)

    widget = decisions.widgets[0]
    assert widget.instance_id == "fw1601111111111"
    assert widget.title == "Trending & new"
    assert ids(widget) == ["LAMP-1", "MUG-5", "MUG-5", "VASE-8"]
    assert widget.products[0]["name"] == "Desk lamp \N{EN DASH} brass"
    assert widget.products[1]["name"] == '<Mug> "Hello"'
    assert widget.products[0]["url"].startswith("/p/lamp-1/?_sgm_campaign=fw1601111111111&")


def test_a_widget_without_products_is_not_returned():
    decisions = decisions_from_answer(recorded("home_page_shuffled"), 1)

    assert [w.instance_id for w in decisions.widgets] == ["fw1601111111111"]
    assert all(widget.products for widget in decisions.widgets)


def test_unknown_action_types_are_kept_in_actions():
    decisions = decisions_from_answer(recorded("home_page_shuffled"), 1)

    assert [action["type"] for action in decisions.actions] == [
        "jsFunctionCall",
        "aTypeNobodyKnowsYet",
    ]
    assert decisions.actions[1]["params"] == {"anything": 1}


def test_the_products_can_be_encoded_as_json_for_a_headless_front_end():
    widget = decisions_from_answer(recorded("product_page"), 2).widgets[0]

    assert json.loads(json.dumps(widget.products))[0]["productId"] == "GIFT-CARD-50"


# --- building the list -------------------------------------------------------


def test_static_items_alone_make_a_widget():
    widget = one_widget(reco(static=[product("a"), product("b")]))

    assert ids(widget) == ["a", "b"]


def test_dynamic_items_take_at_most_item_count_from_their_key_in_order():
    sources = {
        "SRC_ONE|TODAY|NONE": [product(str(n)) for n in range(5)],
        "SRC_TWO": [product("x"), product("y"), product("z")],
    }
    dynamic = [item("SRC_ONE", 2, "TODAY", "NONE"), item("SRC_TWO", 1)]

    widget = one_widget(reco(sources=sources, dynamic=dynamic))

    assert ids(widget) == ["0", "1", "x"]


@pytest.mark.parametrize(
    ("time_frame", "score", "key"),
    [
        ("", "", "SRC"),
        ("TODAY", "", "SRC|TODAY"),
        ("", "NONE", "SRC|NONE"),
        ("THIS_WEEK", "HIGH", "SRC|THIS_WEEK|HIGH"),
        (None, None, "SRC"),
    ],
)
def test_the_key_of_a_dynamic_item(time_frame, score, key):
    decoy = {k: [product("wrong")] for k in ("SRC", "SRC|TODAY", "SRC|NONE", "SRC|THIS_WEEK|HIGH")}
    decoy[key] = [product("right")]
    dynamic = [{"recommendationSource": "SRC", "itemCount": 1}]
    if time_frame is not None:
        dynamic[0]["timeFrame"] = time_frame
    if score is not None:
        dynamic[0]["score"] = score

    assert ids(one_widget(reco(sources=decoy, dynamic=dynamic))) == ["right"]


def test_eliminating_duplicates_fills_the_item_count_with_new_products():
    sources = {"A": [product("1"), product("2")], "B": [product("2"), product("1"), product("3")]}
    dynamic = [item("A", 2), item("B", 1)]

    eliminated = one_widget(
        reco(sources=sources, dynamic=dynamic, elimination="ELIMINATE_DUPLICATES")
    )
    kept = one_widget(reco(sources=sources, dynamic=dynamic, elimination="NO_ELIMINATION"))

    assert ids(eliminated) == ["1", "2", "3"]
    assert ids(kept) == ["1", "2", "2"]


def test_eliminating_duplicates_also_skips_static_items_met_again():
    widget = one_widget(
        reco(
            static=[product("s")],
            sources={"A": [product("s"), product("a")]},
            dynamic=[item("A", 1)],
            elimination="ELIMINATE_DUPLICATES",
        )
    )

    assert ids(widget) == ["s", "a"]


@pytest.mark.parametrize("elimination", ["ELIMINATE_PREVIOUS", "NO_ELIMINATION", None, 7, ""])
def test_other_eliminations_keep_duplicates(elimination):
    widget = one_widget(
        reco(
            sources={"A": [product("1"), product("1")]},
            dynamic=[item("A", 2)],
            elimination=elimination,
        )
    )

    assert ids(widget) == ["1", "1"]


def test_a_missing_source_key_gives_nothing_from_that_item():
    widget = one_widget(reco(sources={"B": [product("b")]}, dynamic=[item("A", 3), item("B", 3)]))

    assert ids(widget) == ["b"]


def test_decoded_dynamic_items_are_taken_too():
    action = reco(sources={"A": [product("a")]})
    action["params"]["dynamicItems"] = [item("A", 1)]

    assert ids(one_widget(action)) == ["a"]


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (3, 3),
        ("3", 3),
        (" 2 ", 2),
        (2.0, 2),
        (0, 0),
        (-1, 0),
        ("-1", 0),
        (True, 0),
        (2.5, 0),
        ("2.5", 0),
        ("two", 0),
        ("\N{SUPERSCRIPT TWO}", 0),
        (None, 0),
        ([2], 0),
        (float("inf"), 0),
        (float("nan"), 0),
    ],
)
def test_item_count_shapes(count, expected):
    sources = {"A": [product(str(n)) for n in range(5)]}
    action = reco(static=[product("static")], sources=sources, dynamic=[item("A", count)])

    assert len(one_widget(action).products) == 1 + expected


@pytest.mark.parametrize("count", [10**30, "9" * 5000, 1e300, MAX_PRODUCTS + 1])
def test_a_huge_item_count_is_capped(count):
    sources = {"A": [product(str(n)) for n in range(MAX_PRODUCTS * 3)]}

    widget = one_widget(reco(sources=sources, dynamic=[item("A", count)]))

    assert ids(widget) == [str(n) for n in range(MAX_PRODUCTS)]


def test_products_per_widget_are_capped_across_sources():
    static = [product(f"s{n}") for n in range(MAX_PRODUCTS - 2)]
    sources = {"A": [product(f"a{n}") for n in range(10)]}

    widget = one_widget(reco(static=static, sources=sources, dynamic=[item("A", 10)]))

    assert len(widget.products) == MAX_PRODUCTS
    assert ids(widget)[-2:] == ["a0", "a1"]


def test_eliminating_duplicates_in_a_huge_source_is_bounded():
    sources = {"A": [product("same")] * 1_000_000 + [product("late")]}
    action = reco(sources=sources, dynamic=[item("A", 5)], elimination="ELIMINATE_DUPLICATES")

    assert ids(one_widget(action)) == ["same"]  # "late" lies beyond the scan budget


# --- ordering ----------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["SHUFFLE", "NONE", None, "WHATEVER"])
def test_ordering_never_changes_the_order(ordering):
    sources = {"A": [product(str(n)) for n in range(20)]}

    widget = one_widget(reco(sources=sources, dynamic=[item("A", 20)], ordering=ordering))

    assert ids(widget) == [str(n) for n in range(20)]


# --- ids, title and products -------------------------------------------------


def test_the_instance_id_falls_back_to_the_actions():
    action = reco(static=[product("a")])
    del action["params"]["instanceId"]

    assert one_widget(action).instance_id == "fw1"


@pytest.mark.parametrize("field", ["instanceId", "actionId"])
@pytest.mark.parametrize("value", [None, "", "   ", True, [], {}, 1.5, "x" * 129])
def test_a_widget_needs_usable_ids(field, value):
    action = reco(static=[product("a")])
    action["params"][field] = value
    if field == "instanceId":
        action["instanceId"] = value

    assert one_widget(action) is None


def test_integer_ids_become_strings():
    action = reco(instance_id=15, action_id=16, static=[product(17)])

    widget = one_widget(action)

    assert (widget.instance_id, widget.action_id, ids(widget)) == ("15", "16", ["17"])


@pytest.mark.parametrize(
    ("title", "expected"),
    [("Top &amp; trending", "Top & trending"), (None, ""), (5, ""), (["x"], "")],
)
def test_the_title(title, expected):
    assert one_widget(reco(static=[product("a")], title=title)).title == expected


def test_a_missing_title_is_empty():
    action = reco(static=[product("a")])
    del action["params"]["notificationTitle"]

    assert one_widget(action).title == ""


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "GIFT",
        42,
        ["productId", "x"],
        {},
        {"productId": None},
        {"productId": ""},
        {"productId": True},
        {"productId": ["x"]},
        {"productId": {"id": "x"}},
        {"productId": 1.5},
        {"name": "no id"},
    ],
)
def test_an_unusable_product_is_skipped_alone(bad):
    widget = one_widget(reco(static=[product("a"), bad, product("b")]))

    assert ids(widget) == ["a", "b"]


def test_a_widget_whose_products_are_all_unusable_is_not_returned():
    assert one_widget(reco(static=[None, {"name": "x"}, "p"])) is None


@pytest.mark.parametrize("name", [None, 5, ["x"], {"en": "x"}])
def test_a_name_that_is_not_text_is_left_out(name):
    widget = one_widget(reco(static=[product("a", name=name)]))

    assert "name" not in widget.products[0] and ids(widget) == ["a"]


def test_unknown_product_fields_are_kept_and_odd_keys_dropped():
    raw = {"productId": "a", "sgmScore": 0.93, "badge": "new", 3: "not a key", None: 1}

    widget = one_widget(reco(static=[raw]))

    assert widget.products[0] == {"productId": "a", "sgmScore": 0.93, "badge": "new"}


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "",
        "   ",
        None,
        42,
        ["https://shop.test/a/"],
    ],
)
def test_a_product_url_that_is_not_a_web_link_is_left_out(url):
    widget = one_widget(reco(static=[product("a", url=url, mUrl=url)]))

    assert {"url", "mUrl", "rawUrl"} & set(widget.products[0]) == set()


@pytest.mark.parametrize("url", ["/p/a/", "//cdn.shop.test/a", "p/a?x=1", "HTTPS://shop.test/a"])
def test_relative_and_http_urls_are_decorated(url):
    widget = one_widget(reco(static=[product("a", url=url)]))

    assert widget.products[0]["rawUrl"] == url
    assert widget.products[0]["url"].endswith(
        "_sgm_campaign=fw1&_sgm_action=click&_sgm_source=fw1_a"
    )


def test_widget_is_immutable():
    widget = Widget("fw1", "fw1_a", "Title", [{"productId": "a"}])

    with pytest.raises(dataclasses.FrozenInstanceError):
        widget.title = "Other"  # type: ignore[misc]


def test_widget_from_action_reads_one_action():
    widget = widget_from_action(reco(static=[product("a")]))

    assert widget == Widget(
        "fw1",
        "fw1_a",
        "Picked for you",
        [
            {
                "productId": "a",
                "name": "Product a",
                "url": "https://shop.test/a/?_sgm_campaign=fw1&_sgm_action=click&_sgm_source=fw1_a",
                "rawUrl": "https://shop.test/a/",
            }
        ],
    )
    assert widget_from_action({"type": "notificationBanner", "params": {}}) is None


# --- the answer as a whole -----------------------------------------------------


@pytest.mark.parametrize("status", ["NO_USERID", "FAIL", "success", "", 1, ["SUCCESS"]])
def test_only_a_success_answer_counts(status):
    body = answer([reco(static=[product("a")])], status=status)

    decisions = decisions_from_answer(body, 1)

    assert decisions.widgets == [] and decisions.actions == []
    assert not decisions.ok and "statusCode" in decisions.reason


@pytest.mark.parametrize("absent", [True, False])
def test_an_answer_without_status_code_counts_as_the_guide_says(absent):
    # The guide: "If your request body has a field statusCode, then you
    # have an error"; its success carries none (or null).
    body = answer([reco(static=[product("a")])])
    if absent:
        del body["statusCode"]
    else:
        body["statusCode"] = None

    decisions = decisions_from_answer(body, 1)

    assert decisions.ok and [p["productId"] for p in decisions.widgets[0].products] == ["a"]


@pytest.mark.parametrize("sent", [2, 0, 3])
def test_a_mismatched_number_of_responses_drops_the_answer(sent):
    body = answer([reco(static=[product("a")]), {"type": "showPopup"}])

    decisions = decisions_from_answer(body, sent)

    assert decisions.widgets == [] and decisions.actions == [] and not decisions.ok
    assert f"{sent} event" in decisions.reason and "1 responses" in decisions.reason


def test_a_mismatched_number_of_campaigns_drops_the_answer():
    body = answer([reco(static=[product("a")])], [])
    body["campaigns"] = [[]]

    decisions = decisions_from_answer(body, 2)

    assert decisions.widgets == [] and not decisions.ok and "campaigns" in decisions.reason


@pytest.mark.parametrize("campaigns", ["x", {}, 3, True])
def test_campaigns_that_are_not_a_list_drop_the_answer(campaigns):
    body = answer([reco(static=[product("a")])])
    body["campaigns"] = campaigns

    assert decisions_from_answer(body, 1).widgets == []


@pytest.mark.parametrize("campaigns", [None, "absent"])
def test_campaigns_may_be_left_out(campaigns):
    body = answer([reco(static=[product("a")])])
    if campaigns == "absent":
        del body["campaigns"]
    else:
        body["campaigns"] = campaigns

    assert [w.instance_id for w in decisions_from_answer(body, 1).widgets] == ["fw1"]


@pytest.mark.parametrize("sent", [-1, True, "1", None, 1.0])
def test_the_number_of_events_must_be_a_count(sent):
    decisions = decisions_from_answer(answer([reco(static=[product("a")])]), sent)

    assert decisions.widgets == [] and not decisions.ok


def test_widgets_of_several_events_come_in_order_once_per_instance():
    body = answer(
        [reco("fw1", "fw1_a", static=[product("a")])],
        [reco("fw2", "fw2_a", static=[product("b")]), reco("fw1", "fw1_b", static=[product("c")])],
    )

    decisions = decisions_from_answer(body, 2)

    assert [(w.instance_id, w.action_id) for w in decisions.widgets] == [
        ("fw1", "fw1_a"),
        ("fw2", "fw2_a"),
    ]


def test_widgets_per_answer_are_capped():
    actions = [reco(f"fw{n}", f"fw{n}_a", static=[product("a")]) for n in range(MAX_WIDGETS + 5)]

    decisions = decisions_from_answer(answer(actions), 1)

    assert len(decisions.widgets) == MAX_WIDGETS
    assert decisions.widgets[-1].instance_id == f"fw{MAX_WIDGETS - 1}"


def test_raw_actions_per_answer_are_capped():
    actions = [{"type": "showPopup", "instanceId": str(n)} for n in range(MAX_ACTIONS + 5)]

    decisions = decisions_from_answer(answer(actions), 1)

    assert len(decisions.actions) == MAX_ACTIONS and decisions.actions[0]["instanceId"] == "0"


def test_actions_that_are_not_actions_are_not_kept():
    body = answer(
        [None, "showPopup", 3, [], {}, {"type": 5}, {"type": None}, {"type": "showPopup"}]
    )

    assert decisions_from_answer(body, 1).actions == [{"type": "showPopup"}]


def test_an_answer_without_actions_is_ok_and_falsy():
    decisions = decisions_from_answer(answer([], []), 2)

    assert decisions.ok and decisions.reason == ""
    assert not decisions and decisions.widgets == [] and decisions.actions == []


def test_the_empty_decisions():
    first, second = Decisions.empty(), Decisions.empty("late")

    assert not first and not first.ok and first.widgets == [] and first.actions == []
    assert second.reason == "late" and first.widgets is not second.widgets
    assert Decisions() == Decisions.empty()


# --- garbage at every level --------------------------------------------------

GARBAGE = [
    None,
    0,
    -1,
    1.5,
    float("nan"),
    True,
    "",
    "recommendProducts",
    b"bytes",
    [],
    [None],
    [[]],
    {},
    {"type": None},
    {"type": "recommendProducts"},
    {"": {}},
    ("tuple",),
    object(),
]


def _place(path, value):
    """The one-widget answer with the part at ``path`` replaced by ``value``."""
    body = answer([reco(static=[product("a")])])
    if not path:
        return value
    holder = body
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return body


PATHS = [
    (),
    ("responses",),
    ("responses", 0),
    ("responses", 0, 0),
    ("responses", 0, 0, "type"),
    ("responses", 0, 0, "params"),
    ("responses", 0, 0, "params", "recommendedProducts"),
    ("responses", 0, 0, "params", "recommendedProducts", STATIC_ITEMS),
    ("responses", 0, 0, "params", "recommendedProducts", STATIC_ITEMS, 0),
    ("responses", 0, 0, "params", "recommendedProducts", STATIC_ITEMS, 0, "productId"),
]


def _usable(path, value):
    """Whether ``value`` happens to be a good value for the part at ``path``."""
    if path[-1:] == ("type",):
        return value == "recommendProducts"
    if path[-1:] == ("productId",):  # ids may be ints or non-blank strings
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip() != ""
        )
    return False


@pytest.mark.parametrize(
    ("path", "garbage"),
    [
        pytest.param(path, garbage, id=f"{'/'.join(map(str, path)) or 'answer'}-{garbage!r:.16}")
        for path in PATHS
        for garbage in GARBAGE
        if not _usable(path, garbage)
    ],
)
def test_garbage_anywhere_gives_no_widget_and_never_raises(path, garbage):
    body = _place(path, garbage)

    decisions = decisions_from_answer(body, 1)

    assert isinstance(decisions, Decisions)
    assert decisions.widgets == []


@pytest.mark.parametrize("garbage", GARBAGE, ids=lambda g: type(g).__name__ + repr(g)[:12])
@pytest.mark.parametrize("field", ["dynamicItems", "elimination", "ordering", "notificationTitle"])
def test_garbage_in_other_params_never_raises(field, garbage):
    action = reco(sources={"A": [product("a")]}, dynamic=[item("A", 1)])
    action["params"][field] = garbage

    decisions = decisions_from_answer(answer([action]), 1)

    assert isinstance(decisions, Decisions) and decisions.ok
    # Garbage dynamic items give nothing (no static items here: no widget);
    # garbage elsewhere leaves the product list alone.
    assert [ids(w) for w in decisions.widgets] == ([] if field == "dynamicItems" else [["a"]])


@pytest.mark.parametrize("garbage", GARBAGE, ids=lambda g: type(g).__name__ + repr(g)[:12])
def test_garbage_dynamic_item_is_skipped_alone(garbage):
    sources = {"A": [product("a")], "B": [product("b")]}
    action = reco(sources=sources)
    action["params"]["dynamicItems"] = [item("A", 1), garbage, item("B", 1)]

    assert ids(one_widget(action)) == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[",
        "{",
        '{"recommendationSource": "A", "itemCount": 1}',
        '"[]"',
        "null",
        "[1, 2]",
        "[[]]",
        "[" * 30_000 + "]" * 30_000,  # too deep for the decoder
        '[{"recommendationSource": "A", "itemCount": 1}' + " " * 70_000 + "]",  # too long
        '[{"recommendationSource": "A", "itemCount": 1}',
    ],
)
def test_a_malformed_dynamic_items_string_leaves_the_static_items(text):
    action = reco(static=[product("s")], sources={"A": [product("a")]}, dynamic=text)

    assert ids(one_widget(action)) == ["s"]


@pytest.mark.parametrize(
    "bad_item",
    [
        {"itemCount": 1},
        {"recommendationSource": "", "itemCount": 1},
        {"recommendationSource": 5, "itemCount": 1},
        {"recommendationSource": "A", "timeFrame": 5, "itemCount": 1},
        {"recommendationSource": "A", "score": ["x"], "itemCount": 1},
        {"recommendationSource": "A"},
    ],
)
def test_a_malformed_dynamic_item_is_skipped(bad_item):
    sources = {"A": [product("a")], "A|5": [product("a5")], "B": [product("b")]}
    action = reco(sources=sources, dynamic=[bad_item, item("B", 1)])

    assert ids(one_widget(action)) == ["b"]


@pytest.mark.parametrize("source", [None, "x", 3, {}, {"productId": "a"}])
def test_a_source_that_is_not_a_list_gives_nothing(source):
    action = reco(static=[product("s")], sources={"A": source}, dynamic=[item("A", 3)])

    assert ids(one_widget(action)) == ["s"]


class ExplodingMapping(dict):
    def get(self, *args, **kwargs):
        raise RuntimeError("boom")

    def __getitem__(self, key):
        raise RuntimeError("boom")


def test_even_an_exploding_mapping_does_not_raise():
    decisions = decisions_from_answer(ExplodingMapping(statusCode="SUCCESS"), 1)

    assert decisions.widgets == [] and not decisions.ok and decisions.reason
