"""Turn Dengage's answer to one POST of events into widgets to render.

:func:`decisions_from_answer` reads the decoded JSON body Dengage answered
to ``POST /add/events/v1.json`` (``spec/PERSONALISATION.md``) and returns
:class:`Decisions`: the product recommendation widgets (:class:`Widget`) built from
its ``recommendProducts`` actions, and every other action, raw, for shops
that want them (they are browser behaviours: banners, pop-ups, scripts).
:func:`widget_from_action` reads one action.

Rules
-----
* Pure: no request, no database, no network, no settings; the answer is
  never changed. Reading an answer never raises: any shape it does not
  expect degrades to "no widget", or skips just the item it concerns.
* The answer counts only when its ``statusCode`` is ``"SUCCESS"`` or absent
  (``null``): the guide's success carries none ("If your request body has a
  field statusCode, then you have an error"), the vendor's web library
  checks for ``SUCCESS``, and the guide wins; as in ``delivery.answers``.
  And its ``responses``
  list holds one entry per event sent, as does ``campaigns`` when present;
  otherwise the whole answer is dropped, as the vendor's library drops it,
  and :attr:`Decisions.reason` says why.
* Each entry is the list of actions answering one event, in the events'
  order. An action is a mapping with a ``str`` ``type``; other entries and
  actions are skipped. A ``recommendProducts`` action becomes a widget;
  every other action is kept as given in :attr:`Decisions.actions`.
* A widget needs an ``instanceId`` (``params.instanceId``, else the
  action's) and an ``actionId`` (``params.actionId``): ``str`` (non-blank,
  at most 128 characters) or ``int``, written as ``str``. Without both, no
  attribution is possible, so there is no widget. A campaign answered for
  several events of one POST gives one widget (the first).
* Products are listed as the vendor's library lists them when it does not
  shuffle: the static items (``recommendedProducts`` key
  ``RECOMMENDATION_SOURCE_STATIC_ITEMS``), then for each item of
  ``dynamicItems`` (a JSON string encoding a list; a list already decoded
  is taken too) up to ``itemCount`` products of the key
  ``recommendationSource[|timeFrame][|score]`` (empty parts left out).
  With ``elimination`` ``ELIMINATE_DUPLICATES`` a product whose
  ``productId`` is already listed is skipped and the next one taken, so a
  dynamic item still brings up to ``itemCount`` new products; any other
  elimination keeps duplicates. ``itemCount`` is a non-negative integer, an
  integral float or a string of ASCII digits; anything else skips the item.
* ``ordering: SHUFFLE`` is not followed: the server's order is kept. The
  list is ranked by Dengage; a page rendered on the server must be the same
  for the same answer (fragment caches, tests, the impression recorded for
  what was shown), and a shop that wants variety can shuffle in its
  template or view.
* A widget left without products is not returned: nothing can be rendered
  and no impression recorded for it, so every widget in
  :attr:`Decisions.widgets` has at least one product.
* A product is a mapping with a ``productId`` (``str`` or ``int``, written
  as ``str``); others are skipped. Its fields keep the vendor's names, known
  or not (keys that are not ``str`` dropped); ``name`` has its HTML entities
  decoded (the template escapes it again) and is left out when it is not a
  ``str``; ``url`` and ``mUrl`` are left out unless they are non-blank web
  links (``http``, ``https`` or relative: never ``javascript:``), and carry
  the attribution parameters (:func:`.attribution.with_attribution`); the
  undecorated ``url`` stays under ``rawUrl``. The title
  (``notificationTitle``) is decoded the same way, ``""`` when absent.
* Work is bounded whatever the answer holds: at most :data:`MAX_WIDGETS`
  widgets, :data:`MAX_ACTIONS` raw actions and :data:`MAX_SCANNED_ACTIONS`
  actions looked at per answer; at most :data:`MAX_PRODUCTS` products and
  :data:`MAX_SCANNED_PRODUCTS` looked at per widget; at most
  :data:`MAX_DYNAMIC_ITEMS` dynamic items, from a string of at most
  :data:`MAX_DYNAMIC_ITEMS_TEXT` characters.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .attribution import is_web_link, with_attribution

__all__ = [
    "MAX_ACTIONS",
    "MAX_PRODUCTS",
    "MAX_WIDGETS",
    "RECOMMEND_PRODUCTS",
    "STATIC_ITEMS",
    "Decisions",
    "Widget",
    "decisions_from_answer",
    "widget_from_action",
]

RECOMMEND_PRODUCTS = "recommendProducts"

#: The ``recommendedProducts`` key of a widget's fixed products.
STATIC_ITEMS = "RECOMMENDATION_SOURCE_STATIC_ITEMS"

ELIMINATE_DUPLICATES = "ELIMINATE_DUPLICATES"

MAX_WIDGETS = 20
MAX_ACTIONS = 100
MAX_SCANNED_ACTIONS = 1000
MAX_PRODUCTS = 100
MAX_SCANNED_PRODUCTS = 10 * MAX_PRODUCTS
MAX_DYNAMIC_ITEMS = 50
MAX_DYNAMIC_ITEMS_TEXT = 64 * 1024

#: Longest id taken (as for ids in events).
MAX_ID_LENGTH = 128


@dataclass(frozen=True)
class Widget:
    """One product recommendation widget of Dengage's answer.

    ``instance_id`` is the campaign, ``action_id`` the ``interactionId`` of
    its INTERACTION events; ``products`` are mappings with the vendor's field
    names (``productId``, ``name``, ``url``, ``image``, ``price``,
    ``oldPrice``, ``brand``...), every one but ``productId`` optional.
    """

    instance_id: str
    action_id: str
    title: str = ""
    products: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Decisions:
    """What Dengage decided for one POST of events.

    ``ok`` is true when the answer was read (a success with one response per
    event), even if it held nothing; ``reason`` says why it was not.
    A :class:`Decisions` is true when it holds a widget or an action.
    """

    widgets: list[Widget] = field(default_factory=list)
    #: The actions that are not ``recommendProducts``, as Dengage sent them.
    actions: list[Any] = field(default_factory=list)
    ok: bool = False
    reason: str = ""

    def __bool__(self) -> bool:
        return bool(self.widgets or self.actions)

    @classmethod
    def empty(cls, reason: str = "") -> Decisions:
        """No decisions (late, failed, not configured...), ``reason`` saying why."""
        return cls(ok=False, reason=reason)


def _show(value: Any) -> str:
    """A short, printable rendering of ``value`` for a reason."""
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return "".join(c if c.isprintable() else "?" for c in text)


def _events(count: int) -> str:
    return f"{count} event{'' if count == 1 else 's'}"


def decisions_from_answer(answer: Any, events_sent: int) -> Decisions:
    """The :class:`Decisions` in ``answer``, the decoded JSON body Dengage
    answered to one ``POST /add/events/v1.json`` carrying ``events_sent``
    events.

    Never raises: an answer that is not a success, or whose ``responses``
    (or ``campaigns``) do not hold one entry per event, gives
    :meth:`Decisions.empty` with a reason; a malformed part gives no widget
    (see the module's rules).
    """
    try:
        return _read_answer(answer, events_sent)
    except Exception as exc:  # a mapping of a kind JSON never makes
        return Decisions.empty(f"unreadable answer ({type(exc).__name__})")


def _read_answer(answer: Any, events_sent: int) -> Decisions:
    if not isinstance(answer, Mapping):
        return Decisions.empty(f"the answer is not a JSON object: {_show(answer)}")
    status = answer.get("statusCode")
    if status is not None and status != "SUCCESS":
        return Decisions.empty(f"statusCode {_show(status)} is not SUCCESS")
    if not isinstance(events_sent, int) or isinstance(events_sent, bool) or events_sent < 0:
        return Decisions.empty(f"not a number of events: {_show(events_sent)}")
    problem = _mismatch(answer, events_sent)
    if problem:
        return Decisions.empty(problem)

    widgets: list[Widget] = []
    actions: list[Any] = []
    campaigns: set[str] = set()
    for action in _actions(answer["responses"]):
        kind = action.get("type")
        if not isinstance(kind, str):
            continue
        if kind != RECOMMEND_PRODUCTS:
            if len(actions) < MAX_ACTIONS:
                actions.append(action)
            continue
        if len(widgets) >= MAX_WIDGETS:
            continue
        widget = widget_from_action(action)
        if widget is not None and widget.instance_id not in campaigns:
            campaigns.add(widget.instance_id)
            widgets.append(widget)
    return Decisions(widgets, actions, ok=True)


def _mismatch(answer: Mapping[str, Any], count: int) -> str | None:
    """Why ``responses``/``campaigns`` do not hold one entry per event, or ``None``."""
    for name in ("responses", "campaigns"):
        value = answer.get(name)
        if value is None and name == "campaigns":
            continue
        if not isinstance(value, list):
            return f"{_events(count)} sent, but {name} is {_show(value)}, not a list"
        if len(value) != count:
            return f"{_events(count)} sent, but {len(value)} {name} answered"
    return None


def _actions(responses: list[Any]) -> Iterator[Mapping[str, Any]]:
    """The actions of every event's entry, in order, at most
    :data:`MAX_SCANNED_ACTIONS` of them looked at."""
    budget = MAX_SCANNED_ACTIONS
    for entry in responses:
        if not isinstance(entry, list):
            continue
        for action in entry:
            if budget <= 0:
                return
            budget -= 1
            if isinstance(action, Mapping):
                yield action


def _id(value: Any) -> str | None:
    """``value`` as an id: a non-blank ``str`` of at most 128 characters, or
    an ``int`` (never a ``bool``); else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        return None
    return value


def _text(value: Any) -> str | None:
    """``value`` with its HTML entities decoded, when it is a ``str``."""
    return html.unescape(value) if isinstance(value, str) else None


def widget_from_action(action: Any) -> Widget | None:
    """The :class:`Widget` of one ``recommendProducts`` action, or ``None``
    (another type, unusable ids, no product). Never raises on a JSON value."""
    if not isinstance(action, Mapping) or action.get("type") != RECOMMEND_PRODUCTS:
        return None
    params = action.get("params")
    if not isinstance(params, Mapping):
        return None
    instance_id = _id(params.get("instanceId")) or _id(action.get("instanceId"))
    action_id = _id(params.get("actionId"))
    if instance_id is None or action_id is None:
        return None
    products = _products(params)
    if not products:
        return None
    for product in products:
        _decorate(product, instance_id, action_id)
    title = _text(params.get("notificationTitle")) or ""
    return Widget(instance_id, action_id, title, products)


def _products(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The widget's product list, built as the vendor's library builds it."""
    sources = params.get("recommendedProducts")
    if not isinstance(sources, Mapping):
        return []
    eliminate = params.get("elimination") == ELIMINATE_DUPLICATES
    chosen: list[dict[str, Any]] = []
    listed: set[str] = set()
    budget = MAX_SCANNED_PRODUCTS

    def take(candidates: Any, count: int) -> None:
        nonlocal budget
        if not isinstance(candidates, list):
            return
        taken = 0
        for candidate in candidates:
            if taken >= count or len(chosen) >= MAX_PRODUCTS or budget <= 0:
                return
            budget -= 1
            product = _product(candidate)
            if product is None or (eliminate and product["productId"] in listed):
                continue
            chosen.append(product)
            listed.add(product["productId"])
            taken += 1

    take(sources.get(STATIC_ITEMS), MAX_PRODUCTS)
    for key, count in _dynamic_items(params.get("dynamicItems")):
        take(sources.get(key), count)
    return chosen


def _dynamic_items(value: Any) -> list[tuple[str, int]]:
    """(``recommendedProducts`` key, item count) of each usable dynamic item."""
    if isinstance(value, str):
        if len(value) > MAX_DYNAMIC_ITEMS_TEXT:
            return []
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return []
    if not isinstance(value, list):
        return []
    items = []
    for item in value[:MAX_DYNAMIC_ITEMS]:
        if not isinstance(item, Mapping):
            continue
        key = _source_key(item)
        count = _count(item.get("itemCount"))
        if key is not None and count is not None:
            items.append((key, count))
    return items


def _source_key(item: Mapping[str, Any]) -> str | None:
    """``recommendationSource``, then ``|timeFrame`` and ``|score`` when not
    empty; ``None`` when a part is not text."""
    source = item.get("recommendationSource")
    if not isinstance(source, str) or not source:
        return None
    parts = [source]
    for name in ("timeFrame", "score"):
        part = item.get(name)
        if part is None or part == "":
            continue
        if not isinstance(part, str):
            return None
        parts.append(part)
    return "|".join(parts)


def _count(value: Any) -> int | None:
    """An ``itemCount`` as a number of products (0 when negative, at most
    :data:`MAX_PRODUCTS`), or ``None`` when it is no whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value) if abs(value) < 1e18 else int(math.copysign(MAX_PRODUCTS, value))
    elif isinstance(value, str):
        digits = value.strip()
        sign = -1 if digits.startswith("-") else 1
        digits = digits.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            return None
        value = sign * (int(digits) if len(digits) <= 9 else MAX_PRODUCTS)
    if not isinstance(value, int):
        return None
    return min(max(value, 0), MAX_PRODUCTS)


def _product(candidate: Any) -> dict[str, Any] | None:
    """A copy of one recommended product, or ``None`` when it has no usable
    ``productId``."""
    if not isinstance(candidate, Mapping):
        return None
    product_id = _id(candidate.get("productId"))
    if product_id is None:
        return None
    product = {key: value for key, value in candidate.items() if isinstance(key, str)}
    product["productId"] = product_id
    name = _text(product.get("name"))
    if name is None:
        product.pop("name", None)
    else:
        product["name"] = name
    for key in ("url", "mUrl"):
        url = product.get(key)
        if key in product and not (isinstance(url, str) and url.strip() and is_web_link(url)):
            del product[key]
    return product


def _decorate(product: dict[str, Any], instance_id: str, action_id: str) -> None:
    """Put the attribution parameters on ``product``'s links, keeping the
    undecorated ``url`` under ``rawUrl``."""
    if "url" in product:
        product["rawUrl"] = product["url"]
    for key in ("url", "mUrl"):
        if key in product:
            product[key] = with_attribution(product[key], instance_id, action_id)
