"""Tests for dengage_django.decisions.attribution: the ``_sgm_*`` parameters.

A widget's product links carry ``_sgm_campaign``, ``_sgm_action`` and
``_sgm_source``; a visitor landing with them (or with ``utm_source=segmentify``
and ``utm_campaign``/``utm_medium``/``utm_content`` in those roles) is credited
to the campaign, and the parameters are stripped from URLs reported in events.
"""

from urllib.parse import parse_qs

import pytest
from django.http import QueryDict

from dengage_django.decisions import (
    Attribution,
    attribution_from_query,
    is_web_link,
    strip_attribution,
    with_attribution,
)

SGM = "_sgm_campaign=fw1&_sgm_action=click&_sgm_source=fw1_a"


# --- with_attribution ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.test/p/1/", f"https://shop.test/p/1/?{SGM}"),
        ("https://shop.test/p/1/?colour=red", f"https://shop.test/p/1/?colour=red&{SGM}"),
        ("https://shop.test/p/1/#reviews", f"https://shop.test/p/1/?{SGM}#reviews"),
        ("https://shop.test/p/1/?a=1#top?x", f"https://shop.test/p/1/?a=1&{SGM}#top?x"),
        ("https://shop.test/p/1/?", f"https://shop.test/p/1/?{SGM}"),
        ("https://shop.test/p/1/?&", f"https://shop.test/p/1/?{SGM}"),
        ("http://shop.test", f"http://shop.test?{SGM}"),
        ("/p/1/", f"/p/1/?{SGM}"),
        ("//cdn.shop.test/p/1", f"//cdn.shop.test/p/1?{SGM}"),
        ("#frag", f"?{SGM}#frag"),
        # The rest of the query stays byte for byte, odd spellings included.
        (
            "/s?q=red+shoe&tag=a%20b&flag&x=%E2%82%AC",
            f"/s?q=red+shoe&tag=a%20b&flag&x=%E2%82%AC&{SGM}",
        ),
    ],
)
def test_with_attribution_adds_the_three_parameters(url, expected):
    assert with_attribution(url, "fw1", "fw1_a") == expected


@pytest.mark.parametrize(
    "url",
    [
        "/p/1/?_sgm_campaign=old&a=1&_sgm_action=view&_sgm_source=old_a",
        "/p/1/?_sgm_campaign=old&_sgm_campaign=older&a=1",
        "/p/1/?%5Fsgm_campaign=old&a=1&_sgm_source",
        "/p/1/?_sgm_other=x&a=1",
    ],
)
def test_with_attribution_replaces_parameters_already_there(url):
    decorated = with_attribution(url, "fw1", "fw1_a")

    assert decorated == f"/p/1/?a=1&{SGM}"


def test_with_attribution_encodes_the_ids():
    decorated = with_attribution("/p/", "fw 1&x=y", "a/b#c")

    assert decorated == "/p/?_sgm_campaign=fw%201%26x%3Dy&_sgm_action=click&_sgm_source=a%2Fb%23c"
    assert parse_qs(decorated.split("?", 1)[1])["_sgm_campaign"] == ["fw 1&x=y"]


@pytest.mark.parametrize(
    "url",
    [
        "mailto:shop@example.com",
        "javascript:alert(1)",
        " javascript:alert(1)",
        "java\nscript:alert(1)",
        "ftp://shop.test/file",
        "data:text/plain,hi",
        "tel:+3312345",
    ],
)
def test_with_attribution_leaves_other_schemes_alone(url):
    assert with_attribution(url, "fw1", "fw1_a") == url


@pytest.mark.parametrize("url", [None, 42, b"/p/", ["/p/"]])
def test_with_attribution_leaves_what_is_not_text_alone(url):
    assert with_attribution(url, "fw1", "fw1_a") is url


def test_with_attribution_copes_with_broken_urls():
    assert with_attribution("http://[::1/p", "fw1", "fw1_a") == f"http://[::1/p?{SGM}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.test/", True),
        ("HTTP://shop.test/", True),
        ("/relative", True),
        ("relative?x=1", True),
        ("//host/path", True),
        ("", True),
        ("?q=1", True),
        ("javascript:alert(1)", False),
        ("  javascript:alert(1)", False),
        ("\x01javascript:alert(1)", False),
        ("jav\tascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("data:text/html,x", False),
        ("mailto:a@b.c", False),
        ("ftp://x", False),
        (None, False),
        (7, False),
    ],
)
def test_is_web_link(url, expected):
    assert is_web_link(url) is expected


# --- strip_attribution ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://shop.test/p/1/?{SGM}", "https://shop.test/p/1/"),
        (f"https://shop.test/p/1/?colour=red&{SGM}", "https://shop.test/p/1/?colour=red"),
        (
            f"https://shop.test/p/1/?{SGM}&colour=red#reviews",
            "https://shop.test/p/1/?colour=red#reviews",
        ),
        (f"https://shop.test/p/1/?{SGM}#reviews", "https://shop.test/p/1/#reviews"),
        ("/p?a=1&_sgm_source=x&b=2&_sgm_campaign=y&c", "/p?a=1&b=2&c"),
        ("/p?%5Fsgm_action=click&a=%20b", "/p?a=%20b"),
        ("/p?_sgm_campaign=a&_sgm_campaign=b", "/p"),
        ("/p?_sgm_campaign", "/p"),
        # utm parameters only when utm_source names Segmentify
        (
            "/p?utm_source=segmentify&utm_campaign=fw1&utm_medium=click&utm_content=fw1_a&q=1",
            "/p?q=1",
        ),
        ("/p?utm_campaign=fw1&utm_source=Segmentify&utm_term=shoes", "/p?utm_term=shoes"),
        # a repeated utm_source: the last one counts, as in request.GET
        ("/p?utm_source=google&utm_source=segmentify&utm_medium=click", "/p"),
        (
            "/p?utm_source=segmentify&utm_source=google&utm_medium=cpc",
            "/p?utm_source=segmentify&utm_source=google&utm_medium=cpc",
        ),
        (
            "/p?utm_source=google&utm_campaign=sale&utm_medium=cpc",
            "/p?utm_source=google&utm_campaign=sale&utm_medium=cpc",
        ),
        ("/p?utm_campaign=fw1&utm_medium=click", "/p?utm_campaign=fw1&utm_medium=click"),
    ],
)
def test_strip_attribution(url, expected):
    assert strip_attribution(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.test/p/1/",
        "/p?a=1&&b=2",
        "/p?",
        "/p#_sgm_campaign=x",
        "mailto:x?subject=_sgm",
        "",
    ],
)
def test_strip_attribution_leaves_a_url_without_them_as_it_is(url):
    assert strip_attribution(url) is url


@pytest.mark.parametrize("url", [None, 3, b"/p?_sgm_campaign=x"])
def test_strip_attribution_leaves_what_is_not_text_alone(url):
    assert strip_attribution(url) is url


def test_strip_attribution_copes_with_broken_urls():
    assert strip_attribution("http://[::1/p?_sgm_action=click&a=1") == "http://[::1/p?a=1"


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.test/p/1/",
        "https://shop.test/p/1/?colour=red&size=42",
        "https://shop.test/p/1/?colour=red#reviews",
        "/s?q=red+shoe&tag=a%20b&flag",
    ],
)
def test_stripping_undoes_the_decoration(url):
    assert strip_attribution(with_attribution(url, "fw9", "fw9_b")) == url


# --- attribution_from_query ----------------------------------------------------


def test_attribution_from_sgm_parameters():
    query = {"_sgm_campaign": "fw1", "_sgm_action": "click", "_sgm_source": "fw1_a", "q": "x"}

    found = attribution_from_query(query)

    assert found == ("click", "fw1", "fw1_a")
    assert isinstance(found, Attribution)
    assert (found.type, found.instance_id, found.interaction_id) == ("click", "fw1", "fw1_a")


def test_attribution_from_a_django_query_dict():
    query = QueryDict("a=1&_sgm_campaign=fw1&_sgm_action=click&_sgm_source=old&_sgm_source=fw1_a")

    assert attribution_from_query(query) == ("click", "fw1", "fw1_a")


def test_attribution_from_parse_qs_lists():
    query = parse_qs("_sgm_campaign=fw1&_sgm_action=click&_sgm_source=fw1_a")

    assert attribution_from_query(query) == ("click", "fw1", "fw1_a")


@pytest.mark.parametrize("source", ["segmentify", "Segmentify", " SEGMENTIFY "])
def test_attribution_from_utm_parameters_in_the_same_roles(source):
    query = {
        "utm_source": source,
        "utm_campaign": "fw2",
        "utm_medium": "click",
        "utm_content": "fw2_a",
    }

    assert attribution_from_query(query) == ("click", "fw2", "fw2_a")


def test_utm_parameters_of_another_source_are_not_attribution():
    query = {"utm_source": "google", "utm_campaign": "fw2", "utm_medium": "cpc", "utm_content": "x"}

    assert attribution_from_query(query) is None


def test_sgm_parameters_win_over_utm_ones():
    query = {
        "_sgm_campaign": "fw1",
        "_sgm_action": "click",
        "_sgm_source": "fw1_a",
        "utm_source": "segmentify",
        "utm_campaign": "fw2",
        "utm_medium": "click",
        "utm_content": "fw2_a",
    }

    assert attribution_from_query(query) == ("click", "fw1", "fw1_a")


def test_incomplete_sgm_parameters_fall_back_to_utm_ones():
    query = {
        "_sgm_campaign": "fw1",
        "utm_source": "segmentify",
        "utm_campaign": "fw2",
        "utm_medium": "click",
        "utm_content": "fw2_a",
    }

    assert attribution_from_query(query) == ("click", "fw2", "fw2_a")


FULL = {"_sgm_campaign": "fw1", "_sgm_action": "click", "_sgm_source": "fw1_a"}


@pytest.mark.parametrize("missing", sorted(FULL))
def test_all_three_parameters_are_needed(missing):
    query = {key: value for key, value in FULL.items() if key != missing}

    assert attribution_from_query(query) is None


@pytest.mark.parametrize(
    "value",
    ["", "   ", "x" * 129, "a\x00b", "a\nb", "\ud800", None, 5, [], [""], ["ok", None], {"a": 1}],
)
@pytest.mark.parametrize("key", sorted(FULL))
def test_unusable_values_are_no_attribution(key, value):
    assert attribution_from_query({**FULL, key: value}) is None


@pytest.mark.parametrize("query", [None, "", "_sgm_campaign=fw1", [("_sgm_campaign", "fw1")], 3])
def test_a_query_that_is_not_a_mapping_is_no_attribution(query):
    assert attribution_from_query(query) is None


def test_values_are_kept_as_given_once_trimmed():
    query = {"_sgm_campaign": " fw1 ", "_sgm_action": "widget-view", "_sgm_source": "é_1"}

    assert attribution_from_query(query) == ("widget-view", "fw1", "é_1")
