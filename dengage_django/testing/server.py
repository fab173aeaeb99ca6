"""A fake Dengage data center for tests and local development.

:class:`FakeDengageServer` is a real HTTP server (standard library only) that
answers the way Dengage's data center does, so code that talks to Dengage over
HTTP can be exercised end to end without the network::

    from dengage_django.testing import FakeDengageServer

    def test_sends_page_view():
        with FakeDengageServer() as server, server.override_settings():
            ...  # record an event and let the sender deliver it
            (event,) = server.wait_for_events(1)
            assert event["name"] == "PAGE_VIEW"

The server can also misbehave on demand so retries and error handling can be
tested. Queued faults, each for the next request(s):

* :meth:`~FakeDengageServer.fail_next`: an HTTP error (``Retry-After`` optional);
* :meth:`~FakeDengageServer.status_code_next`: an HTTP 200 carrying any
  ``statusCode``, Dengage's documented ones or one it never documented
  (``status_code_next("SOMETHING_NEW")``: an API that changed);
* :meth:`~FakeDengageServer.delay_next`: a slow answer (the events still taken);
* :meth:`~FakeDengageServer.drop_next`: a connection closed unanswered;
* :meth:`~FakeDengageServer.redirect_next`: a 3xx redirect (by default to the
  same request on this server, so a client that follows it gets through);
* :meth:`~FakeDengageServer.short_responses_next`: the events are taken, but
  the success answer's ``responses`` and ``campaigns`` hold fewer entries
  than events.

Rules, until cleared: :meth:`~FakeDengageServer.reject_events` (batches
holding a matching event), :meth:`~FakeDengageServer.reject_all` (every
batch: a proxy that mangles bodies, an API change),
:meth:`~FakeDengageServer.set_failure_rate` and
:meth:`~FakeDengageServer.set_delay`.

Campaigns (:class:`Campaign`, :class:`Source`): recommendation widgets added with
:meth:`~FakeDengageServer.add_campaign` are answered, per event, as
``recommendProducts`` actions in ``responses``, with products learned from
the PRODUCT_VIEW events received (most viewed, viewed together).
INTERACTION events are recorded like the others
(:meth:`~FakeDengageServer.interactions`). A success carries no
``statusCode``, as Dengage's guide shows it, unless
:meth:`~FakeDengageServer.set_success_status_code` asks for one
(``"SUCCESS"``: what the vendor's web library waits for).

The account's origin is compared as browsers send it: scheme and host in
lower case, an internationalised host in its punycode form, so a fake bound
to ``https://mağaza.example.com.tr`` accepts
``Origin: https://xn--maaza-l1a.example.com.tr``.

Run it alone with ``python -m dengage_django.testing`` (``--help`` for the
options) to point a development shop at it and watch the events arrive.

Endpoints (paths are relative to :attr:`FakeDengageServer.url`):

``POST /add/events/v1.json?apiKey=KEY``
    A JSON array of events. Checked in Dengage's order; every error is an HTTP
    200 whose JSON body carries a ``statusCode``: ``NO_API_KEY``,
    ``NO_ACCOUNT``, ``NO_DOMAIN_APIKEY_MATCH``, ``BAD_INPUT``, ``NO_EVENT``,
    ``NO_USERID``, ``NO_SESSIONID``. Success is an HTTP 200 with
    ``{"timestamp": ms, "responses": [[action...]...], "campaigns":
    [[instanceId...]...]}``, one entry per event (empty lists without
    campaigns).
``GET /get/key?count=N``
    A JSON array of ``N`` (default 1, at most 1000) unique numeric-looking ids;
    a bad ``count`` is an HTTP 400.
``GET /_fake/events[?name=NAME]`` and ``POST /_fake/reset``
    Control endpoints of the fake itself: the accepted events as JSON (those
    named ``NAME`` only, if given), and :meth:`FakeDengageServer.reset`.
``GET``, ``POST`` and ``DELETE /_fake/campaigns``
    The campaigns as JSON; add one campaign object or a list of them (as
    :meth:`.Campaign.from_dict` reads them; all or none); remove them all.
``POST /_fake/delay`` with ``{"seconds": S}`` or ``{"seconds": S, "count": N}``
    :meth:`~FakeDengageServer.set_delay`, or :meth:`~FakeDengageServer.delay_next`.
``POST /_fake/fail`` with ``{"count": N, "status": 500, "retry_after": S, "endpoint": "events"}``
    :meth:`~FakeDengageServer.fail_next` (every field optional).

Control endpoints are never faulted nor recorded; a bad control request is
an HTTP 400 whose JSON ``error`` says why.

The two Dengage endpoints never redirect unless :meth:`~FakeDengageServer.redirect_next`
asks them to.

Anything else is an HTTP 404.
"""

from __future__ import annotations

import http
import json
import math
import random
import secrets
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "COLLABORATIVE",
    "ELIMINATIONS",
    "SMART_OFFERS",
    "STATIC_ITEMS",
    "Campaign",
    "FakeDengageServer",
    "ProductViews",
    "RecordedRequest",
    "Source",
    "parse_campaigns",
]

DEFAULT_API_KEY = "11111111-2222-3333-4444-555555555555"
DEFAULT_ORIGIN = "https://shop.example.com"
EVENTS_PATH = "/add/events/v1.json"
KEYS_PATH = "/get/key"
MAX_KEY_COUNT = 1000
ENDPOINTS = ("events", "keys")


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the fake received, and how it answered.

    ``query`` maps each query parameter to its (last) value, so
    ``query.get("apiKey")`` is the key the client sent. ``headers`` keeps the
    header names as the client spelled them. ``status`` is the HTTP status
    answered (``None`` when the connection was dropped without an answer) and
    ``status_code`` the Dengage ``statusCode`` of the body, if any.
    """

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    status: int | None
    status_code: str | None = None

    def json(self):
        """Decode the request body as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class _Answer:
    """What to send back: an HTTP status, a body and extra headers.

    A ``status`` of ``None`` means "close the connection without answering".
    """

    status: int | None
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    status_code: str | None = None


@dataclass(frozen=True)
class _Fault:
    """A misbehaviour for one request: a delay, then optionally an answer.

    ``redirect`` is ``(status, location)`` for a redirect (a ``None``
    location: the same request on this server); ``short_by`` handles the
    request normally but leaves that many entries out of a success answer's
    ``responses`` and ``campaigns``.
    """

    delay: float = 0.0
    answer: _Answer | None = None
    redirect: tuple | None = None
    short_by: int = 0


def _json_answer(payload, status=200, headers=None):
    """An answer whose body is ``payload`` encoded as JSON."""
    status_code = payload.get("statusCode") if isinstance(payload, dict) else None
    return _Answer(
        status=status,
        body=json.dumps(payload).encode(),
        headers=dict(headers or {}),
        status_code=status_code,
    )


def _status_code_answer(code):
    """Dengage's error answer: an HTTP 200 carrying ``statusCode``."""
    return _json_answer({"timestamp": "", "responses": [], "statusCode": code})


def _http_error_answer(status, body=None, retry_after=None, headers=None):
    """An HTTP error answer; ``body`` may be bytes, str, or JSON-able data."""
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if body is None:
        body = {"error": http.HTTPStatus(status).phrase}
    if isinstance(body, bytes | str):
        data = body.encode() if isinstance(body, str) else body
        return _Answer(status=status, body=data, content_type="text/plain", headers=headers)
    return _json_answer(body, status=status, headers=headers)


def _dropped_answer():
    """Close the connection without answering."""
    return _Answer(status=None)


def _check_endpoint(endpoint):
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")


def _check_count(count):
    if count < 1:
        raise ValueError("count must be at least 1")


def _origin_or_none(origin):
    """``None`` for "accept any origin" spellings, else the origin without a final slash."""
    if origin in (None, "", "*"):
        return None
    return origin.rstrip("/")


def _ascii_host(host):
    """``host`` in punycode as browsers send it (UTS #46 through the ``idna``
    package when installed, it comes with requests; else Python's codec), or
    ``None`` when it cannot be encoded."""
    if host.isascii():
        return host.lower()
    try:
        import idna
    except ImportError:  # pragma: no cover - requests brings it
        idna = None
    if idna is not None:
        try:
            return idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError:
            pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _normalised_origin(origin):
    """``origin`` as compared: no final slash, scheme and host in lower case,
    an internationalised host in punycode; unparseable values unchanged."""
    origin = origin.strip().rstrip("/")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return origin
    host = _ascii_host(parts.hostname or "")
    if not parts.scheme or not host:
        return origin
    netloc = host if port is None else f"{host}:{port}"
    return parts._replace(scheme=parts.scheme.lower(), netloc=netloc).geturl()


# Campaigns: the recommendation widgets the fake answers.
#
# A Campaign answers, for every event of a POST whose name (and, if
# configured, ``category``) it takes, a ``recommendProducts`` action in that
# event's entry of ``responses``, the shape the vendor's own clients read.
# Its products come from ProductViews, what the PRODUCT_VIEW events received
# taught: SMART_OFFERS the most viewed, COLLABORATIVE (the fake's own name:
# the vendor's is not known) those viewed by the visitors who viewed the
# event's product, then the most viewed to fill up; any other source an
# empty list. Each key holds at most its source's item_count products (when
# the campaign eliminates duplicates, that many more as the client may have
# listed before: the static items and the earlier sources' item counts, so
# that the client, skipping duplicates, still fills item_count) and never
# the product the event is about (its productId, or for an event without one
# the productId of the same visitor's last PRODUCT_VIEW in the same POST).
# Eliminating is the client's job, as in the vendor's library. Ties go to
# the product seen first, so tests can assert exact lists.

#: The most viewed products.
SMART_OFFERS = "RECOMMENDATION_SMART_OFFERS"
#: Products viewed together with the event's product (the fake's own name).
COLLABORATIVE = "RECOMMENDATION_COLLABORATIVE"
#: The ``recommendedProducts`` key holding a campaign's fixed products.
STATIC_ITEMS = "RECOMMENDATION_SOURCE_STATIC_ITEMS"
#: The ``elimination`` values the vendor's library knows.
ELIMINATIONS = ("ELIMINATE_DUPLICATES", "ELIMINATE_PREVIOUS", "NO_ELIMINATION")
DEFAULT_EVENTS = ("PAGE_VIEW", "PRODUCT_VIEW")
DEFAULT_ITEM_COUNT = 4

#: PRODUCT_VIEW fields learned, and the recommended product's field for each
#: (an event's ``name`` is its own name: the product's is its ``title``).
LEARNED_FIELDS = {
    "title": "name",
    "url": "url",
    "image": "image",
    "price": "price",
    "oldPrice": "oldPrice",
    "brand": "brand",
    "category": "category",
    "inStock": "inStock",
}

_SOURCE_FIELDS = ("name", "time_frame", "score", "item_count")
_CAMPAIGN_FIELDS = (
    "instance_id",
    "title",
    "sources",
    "static_products",
    "elimination",
    "events",
    "page_categories",
    "action_id",
)

#: What stands for a :class:`Source`: itself, a name, ``[name, time_frame,
#: score, item_count]`` (trailing items optional) or a mapping of its fields.
SourceLike = Union["Source", str, Sequence[Any], Mapping[str, Any]]


def _unknown_field(data: Mapping[str, Any], known: Sequence[str], what: str) -> None:
    unknown = sorted(str(name) for name in data if name not in known)
    if unknown:
        raise ValueError(f"{what}: unknown field {unknown[0]!r} (known: {', '.join(known)})")


@dataclass(frozen=True)
class Source:
    """One dynamic item of a campaign: where ``item_count`` products come from.

    ``Source("RECOMMENDATION_SMART_OFFERS", "TODAY", "NONE", 4)`` is answered
    under the key ``"RECOMMENDATION_SMART_OFFERS|TODAY|NONE"``.
    """

    name: str
    time_frame: str = ""
    score: str = ""
    item_count: int = DEFAULT_ITEM_COUNT

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a source's name must be a non-empty string, not {self.name!r}")
        for attribute in ("time_frame", "score"):
            value = getattr(self, attribute)
            if not isinstance(value, str):
                raise ValueError(f"a source's {attribute} must be a string, not {value!r}")
        count = self.item_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"a source's item_count must be a positive integer, not {count!r}")

    @property
    def key(self) -> str:
        """The ``recommendedProducts`` key: the name, then ``|time_frame`` and
        ``|score`` when not empty."""
        return "|".join(part for part in (self.name, self.time_frame, self.score) if part)

    def dynamic_item(self) -> dict[str, Any]:
        """This source as an entry of the action's ``dynamicItems``."""
        return {
            "recommendationSource": self.name,
            "timeFrame": self.time_frame,
            "score": self.score,
            "itemCount": self.item_count,
        }

    def to_dict(self) -> dict[str, Any]:
        """The fields by their Python names, as :meth:`coerce` reads them."""
        return {
            "name": self.name,
            "time_frame": self.time_frame,
            "score": self.score,
            "item_count": self.item_count,
        }

    @classmethod
    def coerce(cls, value: SourceLike) -> Source:
        """A :class:`Source` from any of the spellings of :data:`SourceLike`."""
        if isinstance(value, Source):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            _unknown_field(value, _SOURCE_FIELDS, "a source")
            if "name" not in value:
                raise ValueError(f"a source needs a name: {dict(value)!r}")
            return cls(**value)
        if isinstance(value, Sequence) and 1 <= len(value) <= len(_SOURCE_FIELDS):
            return cls(*value)
        raise ValueError(
            "a source is a name, [name, time_frame, score, item_count] or an object "
            f"with those fields, not {value!r}"
        )


def _names(value: Any, what: str, *, allow_none: bool = False) -> tuple[str, ...] | None:
    """A tuple of non-empty strings from one string or a list of them."""
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        names = tuple(value)
        if names and all(isinstance(name, str) and name for name in names):
            return names
    expected = "None or " if allow_none else ""
    raise ValueError(f"{what} must be {expected}a non-empty list of names, not {value!r}")


@dataclass(frozen=True, init=False)
class Campaign:
    """A recommendation widget the fake data center answers.

    :param instance_id: the campaign's id (``instanceId``); adding another
        campaign with the same id replaces this one.
    :param title: the widget's title (``notificationTitle``).
    :param sources: its dynamic items, in order: :class:`Source` objects, or
        names, ``(name, time_frame, score, item_count)`` tuples or mappings.
        A single one may be given alone.
    :param static_products: fixed products (mappings with at least a
        ``productId``), answered as given under :data:`STATIC_ITEMS`.
    :param elimination: one of :data:`ELIMINATIONS`.
    :param events: the event names answered (one name or a list).
    :param page_categories: if given, only events whose ``category`` is one of
        these are answered (a PAGE_VIEW's page category).
    :param action_id: the ``actionId`` (the ``interactionId`` of its
        INTERACTION events); ``"act_" + instance_id`` by default.
    """

    instance_id: str
    title: str
    sources: tuple[Source, ...]
    static_products: tuple[dict[str, Any], ...]
    elimination: str
    events: tuple[str, ...]
    page_categories: tuple[str, ...] | None
    action_id: str

    def __init__(
        self,
        instance_id: str,
        title: str = "",
        sources: SourceLike | Iterable[SourceLike] = (),
        static_products: Iterable[Mapping[str, Any]] = (),
        elimination: str = "ELIMINATE_DUPLICATES",
        events: str | Iterable[str] = DEFAULT_EVENTS,
        page_categories: str | Iterable[str] | None = None,
        action_id: str | None = None,
    ) -> None:
        if not isinstance(instance_id, str) or not instance_id:
            raise ValueError(
                f"a campaign needs an instance_id (a non-empty string), not {instance_id!r}"
            )
        where = f"campaign {instance_id!r}"
        if not isinstance(title, str):
            raise ValueError(f"{where}: title must be a string, not {title!r}")
        if elimination not in ELIMINATIONS:
            raise ValueError(
                f"{where}: elimination must be one of {', '.join(ELIMINATIONS)}, "
                f"not {elimination!r}"
            )
        if action_id is None:
            action_id = f"act_{instance_id}"
        elif not isinstance(action_id, str) or not action_id:
            raise ValueError(f"{where}: action_id must be a non-empty string, not {action_id!r}")
        set_field = object.__setattr__
        set_field(self, "instance_id", instance_id)
        set_field(self, "title", title)
        set_field(self, "sources", _sources(sources, where))
        set_field(self, "static_products", _static_products(static_products, where))
        set_field(self, "elimination", elimination)
        set_field(self, "events", _names(events, f"{where}: events"))
        set_field(
            self,
            "page_categories",
            _names(page_categories, f"{where}: page_categories", allow_none=True),
        )
        set_field(self, "action_id", action_id)

    @classmethod
    def from_dict(cls, data: Any) -> Campaign:
        """A campaign from a mapping of its fields (decoded JSON); unknown
        fields are refused."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a campaign is a JSON object of its fields, not {data!r}")
        where = f"campaign {data.get('instance_id', '')!r}"
        _unknown_field(data, _CAMPAIGN_FIELDS, where)
        if "instance_id" not in data:
            raise ValueError(f"a campaign needs an instance_id: {dict(data)!r}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The fields by their Python names, as :meth:`from_dict` reads them (JSON-able)."""
        return {
            "instance_id": self.instance_id,
            "title": self.title,
            "sources": [source.to_dict() for source in self.sources],
            "static_products": [dict(product) for product in self.static_products],
            "elimination": self.elimination,
            "events": list(self.events),
            "page_categories": (
                None if self.page_categories is None else list(self.page_categories)
            ),
            "action_id": self.action_id,
        }

    def applies_to(self, event: Mapping[str, Any]) -> bool:
        """Whether this campaign answers ``event`` (its name, its category)."""
        if event.get("name") not in self.events:
            return False
        return self.page_categories is None or event.get("category") in self.page_categories

    def action(self, views: ProductViews, product_id: str | None) -> dict[str, Any]:
        """The ``recommendProducts`` action for an event about ``product_id``."""
        products: dict[str, list[dict[str, Any]]] = {}
        # Products the client may have listed before a source's: duplicates it
        # skips, so (when eliminating them) the source brings that many more.
        listed = len(self.static_products)
        for source in self.sources:
            count = source.item_count
            if self.elimination == "ELIMINATE_DUPLICATES":
                count += listed
            found = views.recommend(source.name, product_id, count)
            if len(found) >= len(products.get(source.key, ())):
                products[source.key] = found  # the same key twice: the longer list
            listed += source.item_count
        products[STATIC_ITEMS] = [dict(product) for product in self.static_products]
        return {
            "type": "recommendProducts",
            "instanceId": self.instance_id,
            "params": {
                "instanceId": self.instance_id,
                "actionId": self.action_id,
                "notificationTitle": self.title,
                "actionType": "INPAGE_WIDGET",
                "dynamicItems": json.dumps([source.dynamic_item() for source in self.sources]),
                "recommendedProducts": products,
                "elimination": self.elimination,
                "ordering": "NO_SHUFFLE",
            },
        }


def _sources(value: Any, where: str) -> tuple[Source, ...]:
    if isinstance(value, Source | str):
        value = (value,)
    if not isinstance(value, Iterable) or isinstance(value, Mapping | bytes):
        raise ValueError(f"{where}: sources must be a list of sources, not {value!r}")
    sources = []
    for index, item in enumerate(value):
        try:
            sources.append(Source.coerce(item))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: sources[{index}]: {error}") from None
    return tuple(sources)


def _static_products(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError(f"{where}: static_products must be a list of products, not {value!r}")
    products = []
    for index, product in enumerate(value):
        if not isinstance(product, Mapping) or product.get("productId") in (None, ""):
            raise ValueError(
                f"{where}: static_products[{index}] must be an object with a productId, "
                f"not {product!r}"
            )
        products.append(dict(product))
    return tuple(products)


def parse_campaigns(data: Any) -> list[Campaign]:
    """Campaigns from decoded JSON: one campaign object or a list of them."""
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"expected a campaign object or a list of them, not {data!r}")
    return [Campaign.from_dict(item) for item in data]


class ProductViews:
    """What the fake learned from PRODUCT_VIEW events: the products, how
    often each was viewed, and which visitors viewed which.

    Not thread-safe: :class:`~dengage_django.testing.FakeDengageServer` calls
    it under its lock.
    """

    def __init__(self) -> None:
        #: Product key -> the learned product; insertion order = first seen.
        self._products: dict[str, dict[str, Any]] = {}
        self._order: dict[str, int] = {}
        self._views: dict[str, int] = {}
        #: Visitor -> the products they viewed.
        self._seen_by: dict[str, dict[str, None]] = {}
        #: Product -> other product -> visitors who viewed both.
        self._together: dict[str, dict[str, int]] = {}
        self._ranking: list[str] | None = None

    def learn(self, event: Mapping[str, Any]) -> None:
        """Take one event into account (only PRODUCT_VIEWs with a productId count)."""
        product_id = event.get("productId")
        if event.get("name") != "PRODUCT_VIEW" or product_id in (None, ""):
            return
        key = str(product_id)
        product = self._products.get(key)
        if product is None:
            product = self._products[key] = {"productId": product_id}
            self._order[key] = len(self._order)
            self._views[key] = 0
            self._together[key] = {}
        for event_field, product_field in LEARNED_FIELDS.items():
            if event_field in event:
                product[product_field] = event[event_field]
        self._views[key] += 1
        self._ranking = None
        seen = self._seen_by.setdefault(str(event.get("userId")), {})
        if key not in seen:
            for other in seen:
                self._together[key][other] = self._together[key].get(other, 0) + 1
                self._together[other][key] = self._together[other].get(key, 0) + 1
            seen[key] = None

    def most_viewed(self) -> list[dict[str, Any]]:
        """Every product learned, most viewed first (copies)."""
        return [dict(self._products[key]) for key in self._most_viewed_keys()]

    def recommend(self, source: str, product_id: str | None, count: int) -> list[dict[str, Any]]:
        """Up to ``count`` products (copies) of ``source`` for an event about
        ``product_id``, never that product."""
        if source == SMART_OFFERS:
            keys = self._fill([], product_id, count)
        elif source == COLLABORATIVE:
            together = self._together.get(product_id, {}) if product_id is not None else {}
            ranked = sorted(together, key=lambda key: (-together[key], self._order[key]))
            keys = self._fill(ranked[:count], product_id, count)
        else:
            keys = []
        return [dict(self._products[key]) for key in keys]

    def _fill(self, keys: list[str], product_id: str | None, count: int) -> list[str]:
        """``keys`` completed with the most viewed others, up to ``count``."""
        taken = set(keys)
        for key in self._most_viewed_keys():
            if len(keys) >= count:
                break
            if key != product_id and key not in taken:
                keys.append(key)
        return keys

    def _most_viewed_keys(self) -> list[str]:
        if self._ranking is None:
            # sorted() is stable: equal counts keep the first-seen order.
            self._ranking = sorted(self._views, key=lambda key: -self._views[key])
        return self._ranking


def _pages_products(batch: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Visitor -> the productId of their last PRODUCT_VIEW in ``batch``."""
    products = {}
    for event in batch:
        product_id = event.get("productId")
        if event.get("name") == "PRODUCT_VIEW" and product_id not in (None, ""):
            products[str(event.get("userId"))] = str(product_id)
    return products


def answer_batch(
    campaigns: Sequence[Campaign], views: ProductViews, batch: Sequence[Mapping[str, Any]]
) -> tuple[list[list[dict[str, Any]]], list[list[str]]]:
    """``(responses, campaigns)`` for a batch: per event, in order, the
    actions of the campaigns that answer it and their instance ids."""
    responses: list[list[dict[str, Any]]] = []
    answered: list[list[str]] = []
    pages_products = _pages_products(batch) if campaigns else {}
    for event in batch:
        matching = [campaign for campaign in campaigns if campaign.applies_to(event)]
        product_id = event.get("productId")
        if product_id in (None, ""):
            subject = pages_products.get(str(event.get("userId")))
        else:
            subject = str(product_id)
        responses.append([campaign.action(views, subject) for campaign in matching])
        answered.append([campaign.instance_id for campaign in matching])
    return responses, answered


class FakeDengageServer:
    """A fake Dengage data center listening on a real local port.

    :param api_key: the only API key the fake account accepts.
    :param origin: the shop origin the account is bound to; requests whose
        ``Origin`` header differs get ``NO_DOMAIN_APIKEY_MATCH`` (compared
        case-insensitively, an internationalised host in punycode). ``None``
        accepts any origin, or none.
    :param host: the interface to listen on.
    :param port: the port; 0 picks a free one (read it from :attr:`port`).
    :param on_batch: optional callable called with each accepted batch (a list
        of event dicts), from the server thread, after it is recorded.
    :param campaigns: :class:`.Campaign` objects to answer (see
        :meth:`add_campaign`).
    :param delay: seconds every events POST waits (see :meth:`set_delay`).
    :param success_status_code: the ``statusCode`` a success answer carries
        (see :meth:`set_success_status_code`); none by default.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Every
    method is thread-safe. Records (:attr:`events`, :attr:`batches`,
    :attr:`requests`, :attr:`issued_keys`) are returned as copies.

    Queued faults (``fail_next``, ``status_code_next``, ``delay_next``,
    ``drop_next``, ``redirect_next``, ``short_responses_next``) each apply to
    one request, first queued first used, on the events endpoint unless
    ``endpoint="keys"`` targets ``/get/key``. Rules (:meth:`reject_events`,
    :meth:`reject_all`, :meth:`set_failure_rate`, :meth:`set_delay`) stay
    until changed and apply to the events endpoint only. Campaigns, like
    rules, stay until removed; what they learned goes with :meth:`reset`.
    """

    def __init__(
        self,
        api_key=DEFAULT_API_KEY,
        origin=DEFAULT_ORIGIN,
        host="127.0.0.1",
        port=0,
        *,
        on_batch=None,
        campaigns=(),
        delay=0.0,
        success_status_code=None,
    ):
        _check_seconds(delay)
        self.host = host
        self._requested_port = port
        self._on_batch = on_batch
        self._lock = threading.Lock()
        self._events_arrived = threading.Condition(self._lock)
        self._api_key = api_key
        self._origin = _origin_or_none(origin)
        self._delay = delay
        self._success_status_code = None
        self._campaigns = {}
        self._rules = []
        self._failure_rate = 0.0
        self._failure_choices = ()
        self._random = random.Random()
        self._httpd = None
        self._thread = None
        self._clear_records()
        self.add_campaigns(campaigns)
        self.set_success_status_code(success_status_code)

    # Life cycle.

    def start(self):
        """Start listening and serving in a daemon thread; does nothing if running."""
        with self._lock:
            if self._httpd is not None:
                return self
            self._httpd = _HTTPServer((self.host, self._requested_port), self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"FakeDengageServer:{self._httpd.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self):
        """Stop serving, close open connections and the socket; does nothing if stopped."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        """The port listened on (the real one when constructed with port 0)."""
        httpd = self._httpd
        if httpd is None:
            raise RuntimeError("the fake Dengage server is not running")
        return httpd.server_port

    @property
    def url(self):
        """The data center URL, ``http://HOST:PORT``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    # Account configuration.

    @property
    def api_key(self):
        """The API key currently accepted."""
        with self._lock:
            return self._api_key

    @property
    def origin(self):
        """The origin currently required, or ``None`` when any is accepted."""
        with self._lock:
            return self._origin

    def set_api_key(self, key):
        """Accept ``key`` from now on (others get ``NO_ACCOUNT``)."""
        with self._lock:
            self._api_key = key

    def set_origin(self, origin):
        """Require ``origin`` from now on; ``None``, ``""`` or ``"*"`` accept any."""
        with self._lock:
            self._origin = _origin_or_none(origin)

    def settings_overrides(self):
        """The ``DENGAGE_*`` settings that point dengage-django at this server."""
        return {
            "DENGAGE_API_KEY": self.api_key,
            "DENGAGE_DATA_CENTER_URL": self.url,
            "DENGAGE_ORIGIN": self.origin or DEFAULT_ORIGIN,
        }

    def override_settings(self):
        """``django.test.override_settings`` with :meth:`settings_overrides`."""
        from django.test import override_settings

        return override_settings(**self.settings_overrides())

    # Records.

    @property
    def events(self):
        """Every accepted event, in arrival order, as decoded dicts."""
        with self._lock:
            return list(self._events)

    @property
    def batches(self):
        """The events of each accepted POST, one list per request."""
        with self._lock:
            return [list(batch) for batch in self._batches]

    @property
    def requests(self):
        """A :class:`RecordedRequest` for every request received, faulted or not."""
        with self._lock:
            return list(self._requests)

    def interactions(self, type=None, instance_id=None):
        """The INTERACTION events received, in order; only those of ``type``
        (``"impression"``, ``"click"``...) and ``instance_id`` when given."""
        return [
            event
            for event in self.events
            if event.get("name") == "INTERACTION"
            and (type is None or event.get("type") == type)
            and (instance_id is None or event.get("instanceId") == instance_id)
        ]

    @property
    def issued_keys(self):
        """Every id handed out by ``/get/key``, in order."""
        with self._lock:
            return list(self._issued_keys)

    def reset(self):
        """Forget every record, queued fault and learned product view; account
        settings, rules and campaigns stay."""
        with self._lock:
            self._clear_records()

    def wait_for_events(self, n, timeout=5.0):
        """Wait until at least ``n`` events are recorded and return all events.

        :raises TimeoutError: if fewer than ``n`` arrived within ``timeout`` seconds.
        """
        with self._events_arrived:
            if not self._events_arrived.wait_for(lambda: len(self._events) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} events within {timeout}s, got {len(self._events)}"
                )
            return list(self._events)

    def _clear_records(self):
        """Empty the records and fault queues; the caller holds the lock (or is __init__)."""
        self._events = []
        self._batches = []
        self._requests = []
        self._issued_keys = []
        self._issued_key_set = set()
        self._faults = {endpoint: deque() for endpoint in ENDPOINTS}
        self._views = ProductViews()

    # Campaigns.

    @property
    def campaigns(self):
        """The campaigns answered, in the order they answer."""
        with self._lock:
            return list(self._campaigns.values())

    def add_campaign(self, campaign=None, /, **fields):
        """Answer a campaign from now on, and return it.

        Give a :class:`.Campaign`, or its fields (``instance_id``, ``title``,
        ``sources``, ``static_products``, ``elimination``, ``events``,
        ``page_categories``, ``action_id``). A campaign with the
        ``instance_id`` of one already there replaces it, in its place.

        :raises ValueError: for a malformed campaign.
        """
        if campaign is None:
            campaign = Campaign(**fields)
        elif fields:
            raise TypeError("give add_campaign() a Campaign or its fields, not both")
        self.add_campaigns([campaign])
        return campaign

    def add_campaigns(self, campaigns):
        """Add several :class:`.Campaign` objects at once (as :meth:`add_campaign`)."""
        campaigns = list(campaigns)
        for campaign in campaigns:
            if not isinstance(campaign, Campaign):
                raise TypeError(f"expected a Campaign, not {campaign!r}")
        with self._lock:
            for campaign in campaigns:
                self._campaigns[campaign.instance_id] = campaign

    def remove_campaign(self, instance_id):
        """Stop answering the campaign ``instance_id`` (a ``KeyError`` if unknown)."""
        with self._lock:
            del self._campaigns[instance_id]

    def clear_campaigns(self):
        """Stop answering every campaign."""
        with self._lock:
            self._campaigns.clear()

    # Queued faults.

    def fail_next(self, count=1, *, status=500, body=None, retry_after=None, endpoint="events"):
        """Answer the next ``count`` requests with HTTP ``status`` instead of handling them.

        ``body`` may be bytes, str or JSON-able data (default: a small JSON
        error); ``retry_after`` (seconds) adds a ``Retry-After`` header.
        """
        self._queue(_Fault(answer=_http_error_answer(status, body, retry_after)), count, endpoint)

    def status_code_next(self, code, count=1, *, endpoint="events"):
        """Answer the next ``count`` requests with an HTTP 200 carrying ``statusCode: code``."""
        self._queue(_Fault(answer=_status_code_answer(code)), count, endpoint)

    def delay_next(self, seconds, count=1, *, endpoint="events"):
        """Sleep ``seconds`` before handling each of the next ``count`` requests normally.

        The request is still processed (and its events recorded) after the
        delay, as when a client times out after the data center had its data.
        """
        _check_seconds(seconds)
        self._queue(_Fault(delay=seconds), count, endpoint)

    def drop_next(self, count=1, *, endpoint="events"):
        """Read each of the next ``count`` requests, then close the connection unanswered."""
        self._queue(_Fault(answer=_dropped_answer()), count, endpoint)

    def redirect_next(self, count=1, *, status=308, location=None, endpoint="events"):
        """Answer the next ``count`` requests with an HTTP ``status`` redirect (3xx).

        ``location`` is the ``Location`` header; by default the same path and
        query (the API key included) on this server, so a client that
        follows the redirect gets through and its events are recorded.
        """
        if not 300 <= status < 400:
            raise ValueError(f"a redirect status is 300 to 399, not {status}")
        self._queue(_Fault(redirect=(status, location)), count, endpoint)

    def short_responses_next(self, count=1, *, missing=1):
        """Take the next ``count`` batches of events as usual, but answer each
        success with ``missing`` fewer entries (at least none) in ``responses``
        and ``campaigns`` than events. An error answer is left as it is."""
        if missing < 1:
            raise ValueError("missing must be at least 1")
        self._queue(_Fault(short_by=missing), count, "events")

    def _queue(self, fault, count, endpoint):
        _check_endpoint(endpoint)
        _check_count(count)
        with self._lock:
            self._faults[endpoint].extend([fault] * count)

    # Rules.

    def reject_events(self, predicate, *, status_code="BAD_INPUT", status=200):
        """Reject, from now on, every batch holding an event for which ``predicate(event)``.

        The whole batch is refused and nothing of it recorded: with ``status``
        200 the answer carries ``statusCode: status_code``, otherwise it is an
        HTTP ``status`` error. The check comes after Dengage's own checks.
        """
        if status == 200:
            answer = _status_code_answer(status_code)
        else:
            answer = _http_error_answer(status)
        with self._lock:
            self._rules.append((predicate, answer))

    def reject_all(self, *, status_code="BAD_INPUT", status=200):
        """Reject, from now on, every batch that passes Dengage's own checks.

        As :meth:`reject_events` with a predicate true for every event: a
        proxy that mangles bodies, or an API change. :meth:`clear_rules`
        ends it.
        """
        self.reject_events(lambda event: True, status_code=status_code, status=status)

    def clear_rules(self):
        """Remove every :meth:`reject_events` and :meth:`reject_all` rule."""
        with self._lock:
            self._rules.clear()

    def set_failure_rate(
        self,
        rate,
        *,
        seed=None,
        statuses=(500, 503, 429),
        retry_after=1,
        include_timeouts=False,
        timeout_delay=2.0,
        include_drops=False,
    ):
        """Make each events POST fail at random with probability ``rate`` (0 turns it off).

        A failure is one of ``statuses`` (a 429 carries ``Retry-After:
        retry_after``), picked uniformly together with, when enabled, a
        ``timeout_delay`` delay before a normal answer and a dropped
        connection. ``seed`` makes the sequence repeatable.
        """
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        choices = [
            _Fault(answer=_http_error_answer(s, retry_after=retry_after if s == 429 else None))
            for s in statuses
        ]
        if include_timeouts:
            choices.append(_Fault(delay=timeout_delay))
        if include_drops:
            choices.append(_Fault(answer=_dropped_answer()))
        if rate and not choices:
            raise ValueError("a failure rate needs at least one kind of failure")
        with self._lock:
            self._failure_rate = rate
            self._failure_choices = tuple(choices)
            self._random = random.Random(seed)

    def set_delay(self, seconds):
        """Delay every events POST by ``seconds`` from now on (0 turns it off);
        the events are taken after the delay, as with :meth:`delay_next`."""
        _check_seconds(seconds)
        with self._lock:
            self._delay = seconds

    def set_success_status_code(self, code):
        """Make success answers carry ``"statusCode": code`` from now on.

        ``None`` (the default) leaves it out, as Dengage's guide shows a
        success; ``"SUCCESS"`` is what the vendor's web library waits for
        before it reads the campaigns' decisions (``PERSONALISATION.md``).
        """
        if code is not None and (not isinstance(code, str) or not code):
            raise ValueError(f"the success statusCode is None or a string, not {code!r}")
        with self._lock:
            self._success_status_code = code

    @property
    def delay(self):
        """The delay of every events POST set by :meth:`set_delay`, in seconds."""
        with self._lock:
            return self._delay

    # Request handling, called from the handler threads.

    def _next_fault(self, endpoint):
        """The fault for this request: a queued one, else maybe a random one."""
        with self._lock:
            if self._faults[endpoint]:
                return self._faults[endpoint].popleft()
            failing = endpoint == "events" and self._random.random() < self._failure_rate
            if failing:
                return self._random.choice(self._failure_choices)
            return None

    def _handle(self, method, path, query, headers, body):
        """Answer one request to a Dengage endpoint, applying faults and recording it."""
        endpoint = "events" if path == EVENTS_PATH else "keys"
        fault = self._next_fault(endpoint) or _Fault()
        delay = fault.delay + (self.delay if endpoint == "events" else 0.0)
        if delay:
            time.sleep(delay)
        answer = fault.answer
        if fault.redirect is not None:
            status, location = fault.redirect
            if location is None:
                location = f"{self.url}{path}" + (f"?{urlencode(query)}" if query else "")
            answer = _http_error_answer(status, b"", headers={"Location": location})
        if answer is None:
            if endpoint == "events":
                answer = self._handle_events(query, headers, body, short_by=fault.short_by)
            else:
                answer = self._handle_keys(query)
        record = RecordedRequest(
            method, path, query, headers, body, answer.status, answer.status_code
        )
        with self._lock:
            self._requests.append(record)
        return answer

    def _handle_events(self, query, headers, body, short_by=0):
        """Validate a batch as Dengage does and record it if accepted; a
        success answers ``short_by`` entries fewer than events."""
        with self._lock:
            api_key, origin, rules = self._api_key, self._origin, list(self._rules)
            success_code = self._success_status_code
        error = _check_account(query, headers, api_key, origin)
        batch = None
        if error is None:
            batch, error = _parse_batch(body)
        if error is not None:
            return _status_code_answer(error)
        for predicate, answer in rules:
            if any(predicate(event) for event in batch):
                return answer
        with self._events_arrived:
            self._events.extend(batch)
            self._batches.append(batch)
            for event in batch:
                self._views.learn(event)
            responses, campaigns = answer_batch(list(self._campaigns.values()), self._views, batch)
            self._events_arrived.notify_all()
        if self._on_batch is not None:
            self._on_batch(list(batch))
        entries = max(len(batch) - short_by, 0)
        success = {
            "timestamp": int(time.time() * 1000),
            "responses": responses[:entries],
            "campaigns": campaigns[:entries],
        }
        if success_code is not None:
            success["statusCode"] = success_code
        return _json_answer(success)

    def _control(self, method, path, query, body):
        """Answer a ``/_fake/...`` control request, or ``None`` for an unknown one."""
        route = (method, path)
        if route == ("GET", "/_fake/events"):
            name = query.get("name")
            events = self.events
            return _json_answer([e for e in events if name is None or e.get("name") == name])
        if route == ("POST", "/_fake/reset"):
            self.reset()
            return _json_answer({"reset": True})
        if route == ("GET", "/_fake/campaigns"):
            return _json_answer([campaign.to_dict() for campaign in self.campaigns])
        if route == ("DELETE", "/_fake/campaigns"):
            self.clear_campaigns()
            return _json_answer({"campaigns": []})
        if route not in (
            ("POST", "/_fake/campaigns"),
            ("POST", "/_fake/delay"),
            ("POST", "/_fake/fail"),
        ):
            return None
        try:
            data = _control_body(body)
            if path == "/_fake/campaigns":
                campaigns = parse_campaigns(data)
                self.add_campaigns(campaigns)
                return _json_answer([campaign.to_dict() for campaign in campaigns])
            if path == "/_fake/delay":
                return self._control_delay(_control_fields(data, ("seconds", "count")))
            return self._control_fail(
                _control_fields(data, ("count", "status", "retry_after", "endpoint"))
            )
        except ValueError as error:
            return _http_error_answer(400, {"error": str(error)})

    def _control_delay(self, data):
        seconds = data.get("seconds")
        _check_seconds(seconds)
        if "count" in data:
            self.delay_next(seconds, _control_count(data["count"]))
            return _json_answer({"delay": self.delay, "queued": data["count"]})
        self.set_delay(seconds)
        return _json_answer({"delay": self.delay})

    def _control_fail(self, data):
        status = data.get("status", 500)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status < 600:
            raise ValueError(f"status must be an HTTP error status (400 to 599), not {status!r}")
        retry_after = data.get("retry_after")
        if retry_after is not None:
            _check_seconds(retry_after, "retry_after")
        count = _control_count(data.get("count", 1))
        self.fail_next(
            count, status=status, retry_after=retry_after, endpoint=data.get("endpoint", "events")
        )
        return _json_answer({"queued": count})

    def _handle_keys(self, query):
        """Hand out ``count`` new unique ids."""
        try:
            count = int(query.get("count", "1"))
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_KEY_COUNT:
            return _http_error_answer(400, {"error": f"count must be 1 to {MAX_KEY_COUNT}"})
        keys = []
        with self._lock:
            while len(keys) < count:
                key = str(secrets.randbits(64) - 2**63)
                if key not in self._issued_key_set:
                    self._issued_key_set.add(key)
                    keys.append(key)
            self._issued_keys.extend(keys)
        return _json_answer(keys)


def _check_seconds(seconds, name="seconds"):
    """Refuse a delay that is not a number of seconds, at least 0."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds < math.inf
    ):
        raise ValueError(f"{name} must be a number at least 0, not {seconds!r}")


def _control_body(body):
    """A control request's JSON body, decoded."""
    try:
        return json.loads(body or b"null")
    except ValueError as error:
        raise ValueError(f"the body is not JSON: {error}") from None


def _control_fields(data, known):
    """``data`` checked to be a JSON object of ``known`` fields only."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object with {', '.join(known)}, not {data!r}")
    unknown = sorted(name for name in data if name not in known)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(known)})")
    return data


def _control_count(count):
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an integer at least 1, not {count!r}")
    return count


def _check_account(query, headers, api_key, origin):
    """The statusCode for a bad API key or origin, or ``None``."""
    sent_key = query.get("apiKey")
    if not sent_key:
        return "NO_API_KEY"
    if sent_key != api_key:
        return "NO_ACCOUNT"
    if origin is not None:
        sent_origin = next((v for k, v in headers.items() if k.lower() == "origin"), "")
        if _normalised_origin(sent_origin) != _normalised_origin(origin):
            return "NO_DOMAIN_APIKEY_MATCH"
    return None


def _parse_batch(body):
    """Decode and check a batch: ``(events, None)`` or ``(None, statusCode)``."""
    try:
        batch = json.loads(body)
    except ValueError:
        return None, "BAD_INPUT"
    if not isinstance(batch, list) or not all(isinstance(event, dict) for event in batch):
        return None, "BAD_INPUT"
    if not batch:
        return None, "NO_EVENT"
    if not all(event.get("userId") for event in batch):
        return None, "NO_USERID"
    if not all(event.get("sessionId") for event in batch):
        return None, "NO_SESSIONID"
    return batch, None


class _HTTPServer(ThreadingHTTPServer):
    """The listening server: quiet about clients that go away, and able to close them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, fake):
        self.fake = fake
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        """End every open (keep-alive) connection, so no handler serves after stop."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Stay silent when a client goes away; report real bugs."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`FakeDengageServer` and writes its answers."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeDengage/1.0"
    # Headers and body go out in separate writes: without TCP_NODELAY the
    # body waits for the client's delayed ACK (~40 ms a request on Linux).
    disable_nagle_algorithm = True

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def log_message(self, format, *args):
        """Do not log each request to stderr."""

    def _dispatch(self):
        body = self._read_body()
        fake = self.server.fake
        parts = urlsplit(self.path)
        route = (self.command, parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if route in (("POST", EVENTS_PATH), ("GET", KEYS_PATH)):
            headers = dict(self.headers.items())
            answer = fake._handle(self.command, parts.path, query, headers, body)
        else:
            answer = fake._control(self.command, parts.path, query, body)
        self._send(answer or _http_error_answer(404))

    def _read_body(self):
        """Read the request body, sent with a Content-Length or chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self):
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _send(self, answer):
        if answer.status is None:
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)
