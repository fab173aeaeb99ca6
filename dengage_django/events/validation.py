"""Validate and normalise Dengage events into their wire form.

:func:`build_event` turns an event name and a mapping of fields into a new,
JSON-safe dict ready for ``json.dumps``, or raises
:class:`~dengage_django.exceptions.DengageValidationError` naming the event,
the offending field (``"quantity"``, ``"productList[1].price"``,
``"params.tags[2]"``) and what is wrong with it.

Rules
-----
* Field names: every field has a wire name (``productId``) and a snake_case
  alias derived mechanically from it (``product_id``, ``imageXS`` ->
  ``image_xs``); either spelling is accepted, both at once is an error.
  ``None`` values count as absent. An unknown field is an error, with the
  closest known name suggested. A ``name`` key, if given, must match the
  event name.
* Each event type is a declarative schema (wire name -> validator, required
  flag, default) on top of the common parameters: ``userId`` and
  ``sessionId`` (required), ``device``, ``pageUrl``, ``referrer``, ``lang``,
  ``currency``, ``region``, ``testMode`` and ``params``. The output holds
  ``name``, ``userId``, ``sessionId``, then the rest in schema order.
* Strings: ``str`` or Django lazy strings. Nothing is stripped except choices
  and codes (``device`` is upper-cased, ``step`` lower-cased, ``currency``
  upper-cased, ``lang`` stripped). Required strings must not be blank. Ids
  (``userId``, ``sessionId``, ``productId``, ``basketId``, ``orderNo``,
  ``groupId``) also take ints and hold at most 128 characters in every mode.
  Any other string longer than ``DENGAGE_MAX_STRING_LENGTH`` is an error when
  ``strict``, otherwise it is truncated to the cap.
* Broken text: a NUL character or a lone surrogate (half an emoji, a code
  point U+D800..U+DFFF) in any string a field accepts (text, ids, choices,
  codes, numeric and boolean strings, ``params``/``custom`` keys and values)
  is an error naming the field when ``strict``; otherwise the text is cleaned
  first (:func:`clean_text`: NULs dropped, surrogates become U+FFFD), then
  checked as usual. Text the visitor supplied (URLs, referrers, headers) goes
  through :func:`visitor_text` instead, which cleans and cuts it and never
  fails. :func:`build_event` raises nothing but ``DengageValidationError``,
  whose field and message are themselves clean text.
* INTERACTION and SEARCH (not in the guide; as the vendor's own clients
  send them): INTERACTION's ``type`` is the vendor's code (``impression``,
  ``widget-view``, ``click`` or another) kept as given, only stripped:
  letters, digits, ``-``, ``_`` and ``.``, at most 64 characters;
  ``instanceId`` (the campaign) is a required id, ``interactionId`` (the
  action) an optional one. SEARCH's ``query`` is the visitor's text: a
  string, cleaned, stripped and cut to ``DENGAGE_MAX_STRING_LENGTH`` in
  every mode (never an error for broken or over-long text); blank is an
  error.
* Numbers: ``int``, finite ``float``, finite ``Decimal`` or a numeric string.
  Decimals and numeric strings become an ``int`` when integral, otherwise a
  ``float`` only if that float prints back the same digits (so
  ``Decimal("349.99")`` is written as ``349.99``); anything a JSON number
  cannot carry exactly is an error. Booleans are never numbers. Prices and
  totals must not be negative.
* Integers (``quantity``, ``age``, ``stockCount``): any integral number;
  ``quantity`` defaults to 1 (emitted) and must be positive.
* Booleans: ``bool`` or the strings ``"true"``/``"false"`` in any case.
* Dates (``birthDate``, ``memberSince``): ``date``/``datetime`` are written
  ``dd.mm.yyyy``; a string must already be ``dd.mm.yyyy`` and a real date.
* ``params`` and ``custom``: mappings with ``str`` keys whose values are,
  recursively, strings, numbers, booleans, ``None``, dates (ISO format),
  lists, tuples or mappings.
* The encoded event may not exceed ``DENGAGE_MAX_EVENT_BYTES``.

:func:`encode_batch` writes events as the compact UTF-8 JSON array Dengage
expects; :func:`sanitize_for_storage` makes a best-effort JSON-safe copy of
raw input, every string in it cleaned, to store an invalid event alongside
its reason.
"""

import datetime
import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.utils.functional import Promise

from ..conf import dengage_settings
from ..exceptions import DengageValidationError

__all__ = [
    "EVENT_NAMES",
    "build_event",
    "check_fields",
    "clean_text",
    "encode_batch",
    "encode_event",
    "join_encoded",
    "sanitize_for_storage",
    "snake_alias",
    "visitor_text",
]

MAX_ID_LENGTH = 128
MAX_NESTING = 32
_SHOW_LIMIT = 60
_STORAGE_REPR_LIMIT = 200
_ABSENT = object()
_BROKEN = re.compile(r"[\x00\ud800-\udfff]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without NUL characters, each lone surrogate (any code point
    U+D800..U+DFFF) replaced by U+FFFD; ``text`` itself when already clean."""
    if _BROKEN.search(text) is None:
        return text
    return _SURROGATES.sub("\ufffd", text.replace("\x00", ""))


def visitor_text(value, cap=None) -> str | None:
    """Text the visitor supplied (a URL, a referrer, a header) made safe for
    an event: ``None`` stays ``None``, bytes are decoded as UTF-8 (bad bytes
    become U+FFFD), anything else goes through ``str()``; the text is then
    cleaned (:func:`clean_text`) and cut to ``cap`` characters (default
    ``DENGAGE_MAX_STRING_LENGTH``). Never raises."""
    if value is None:
        return None
    try:
        if cap is None:
            cap = dengage_settings.MAX_STRING_LENGTH
        cap = max(int(cap), 0)
    except Exception:
        cap = 2048
    try:
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).decode("utf-8", "replace")
        else:
            text = value if isinstance(value, str) else str(value)
    except Exception:
        text = _show(value, cap)
    try:
        return str.__str__(clean_text(text))[:cap]
    except Exception:
        return _show(value, cap)[:cap]


def snake_alias(wire):
    """The snake_case spelling of a wire name: ``imageXS`` -> ``image_xs``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z]+)", r"_\1", wire).lower()


def _truncate(text, limit):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value, limit=_SHOW_LIMIT):
    """A clean repr of ``value`` short enough for an error message."""
    try:
        text = clean_text(str.__str__(repr(value)))
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    return _truncate(text, limit)


class _Invalid(Exception):
    """A validator's complaint; ``path`` is relative to the field checked."""

    def __init__(self, message, path=""):
        super().__init__(message)
        self.message = message
        self.path = path


def _join(prefix, path):
    if not path:
        return prefix
    if not prefix or path.startswith("["):
        return prefix + path
    return f"{prefix}.{path}"


# --- Validators: callables (value, strict) -> normalised value -------------


def _as_str(value):
    return str(value) if isinstance(value, Promise) else value


def _broken(text):
    """Why ``text`` is broken (``"contains ..."``), or ``None`` if it is clean."""
    match = _BROKEN.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return f"contains a NUL character at position {match.start()}"
    return f"contains a lone surrogate (broken unicode) at position {match.start()}"


def _clean(text, strict):
    """``text`` cleaned (lenient) or rejected if broken (strict)."""
    if strict:
        problem = _broken(text)
        if problem:
            raise _Invalid(problem)
        return text
    return clean_text(text)


def _given(value, strict):
    """``value`` with lazy strings made ``str`` and strings cleaned or rejected."""
    value = _as_str(value)
    return _clean(value, strict) if isinstance(value, str) else value


def _capped(text, strict):
    cap = dengage_settings.MAX_STRING_LENGTH
    if len(text) <= cap:
        return text
    if strict:
        raise _Invalid(f"is {len(text)} characters long, over the {cap}-character cap")
    return text[:cap]


def _text(value, strict):
    value = _given(value, strict)
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, got {_show(value)}")
    return _capped(value, strict)


def _identifier(value, strict):
    value = _as_str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = _given(value, strict)
    if not isinstance(value, str):
        raise _Invalid(f"must be a string or an integer id, got {_show(value)}")
    if len(value) > MAX_ID_LENGTH:
        raise _Invalid(f"is {len(value)} characters long, over the {MAX_ID_LENGTH}-character cap")
    return value


def _choice(*options):
    canonical = {option.lower(): option for option in options}

    def check(value, strict):
        value = _given(value, strict)
        if isinstance(value, str) and value.strip().lower() in canonical:
            return canonical[value.strip().lower()]
        raise _Invalid(f"must be one of {', '.join(options)}, got {_show(value)}")

    return check


def _code(pattern, description, transform=str):
    regex = re.compile(pattern)

    def check(value, strict):
        value = _given(value, strict)
        if isinstance(value, str) and regex.fullmatch(value.strip()):
            return transform(value.strip())
        raise _Invalid(f"must be {description}, got {_show(value)}")

    return check


_MAX_INT_BITS = 1000  # ~1e301: more than any price, yet json.dumps-able
_MAX_DECIMAL_EXPONENT = 300
_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _to_number(value):
    """``value`` as an int or a float that JSON carries exactly, or raise."""
    value = _as_str(value)
    if isinstance(value, bool):
        raise _Invalid("")
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise _Invalid(f"is too large, got {_show(value)}")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("")
        return value
    if isinstance(value, str):
        if not _NUMERIC.fullmatch(value.strip()):
            raise _Invalid("")
        value = Decimal(value.strip())
    if not isinstance(value, Decimal) or not value.is_finite():
        raise _Invalid("")
    if value.adjusted() > _MAX_DECIMAL_EXPONENT:
        raise _Invalid(f"is too large, got {_show(value)}")
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    try:
        exact = Decimal(repr(as_float)) == value
    except InvalidOperation:
        exact = False
    if not exact:
        raise _Invalid(f"has more digits than a JSON number carries exactly, got {_show(value)}")
    return as_float


def _number(minimum=None):
    wanted = "a number" if minimum is None else "a non-negative number"

    def check(value, strict):
        value = _given(value, strict)
        try:
            number = _to_number(value)
        except _Invalid as error:
            raise _Invalid(error.message or f"must be {wanted}, got {_show(value)}") from None
        if minimum is not None and number < minimum:
            raise _Invalid(f"must be {wanted}, got {_show(value)}")
        return number

    return check


def _integer(minimum, maximum=None):
    if maximum is not None:
        wanted = f"an integer between {minimum} and {maximum}"
    else:
        wanted = "a positive integer" if minimum == 1 else "a non-negative integer"

    def check(value, strict):
        value = _given(value, strict)
        try:
            number = _to_number(value)
        except _Invalid:
            number = None
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        if (
            not isinstance(number, int)
            or number < minimum
            or (maximum is not None and number > maximum)
        ):
            raise _Invalid(f"must be {wanted}, got {_show(value)}")
        return number

    return check


def _boolean(value, strict):
    if isinstance(value, bool):
        return value
    value = _given(value, strict)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid(f'must be a boolean (or "true"/"false"), got {_show(value)}')


def _date(value, strict):
    if isinstance(value, datetime.date):
        return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
    value = _given(value, strict)
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})", value.strip())
        if match:
            day, month, year = (int(part) for part in match.groups())
            try:
                datetime.date(year, month, day)
            except ValueError:
                raise _Invalid(f"is not a real date, got {_show(value)}") from None
            return value.strip()
    raise _Invalid(f'must be a date or a "dd.mm.yyyy" string, got {_show(value)}')


def _list_of(item_check, *, nonempty=False):
    def check(value, strict):
        if not isinstance(value, (list, tuple)):
            raise _Invalid(f"must be a list, got {_show(value)}")
        if nonempty and not value:
            raise _Invalid("must not be empty")
        result = []
        for index, item in enumerate(value):
            try:
                result.append(item_check(item, strict))
            except _Invalid as error:
                raise _Invalid(error.message, _join(f"[{index}]", error.path)) from None
        return result

    return check


def _either(first, second, description):
    def check(value, strict):
        value = _given(value, strict)
        for candidate in (first, second):
            try:
                return candidate(value, strict)
            except _Invalid:
                pass
        raise _Invalid(f"must be {description}, got {_show(value)}")

    return check


_INTERACTION_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _interaction_type(value, strict):
    """The vendor's interaction code (``impression``, ``widget-view``,
    ``click`` ...) as given, only stripped: any case, other codes too."""
    value = _given(value, strict)
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, got {_show(value)}")
    value = value.strip()
    if value and not _INTERACTION_TYPE.fullmatch(value):
        raise _Invalid(
            "must be an interaction type like 'impression', 'widget-view' or 'click' "
            f"(letters, digits, '-', '_' or '.'; at most 64), got {_show(value)}"
        )
    return value  # blank: the schema says "must not be empty"


def _visitor_query(value, strict):
    """What the visitor typed in a search box: a string, cleaned, stripped
    and cut to the cap (:func:`visitor_text`) in every mode."""
    value = _as_str(value)
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, got {_show(value)}")
    return visitor_text(clean_text(value).strip()).rstrip()


def _json_value(value, strict, depth=0):
    if depth > MAX_NESTING:
        raise _Invalid(f"nested more than {MAX_NESTING} levels deep")
    value = _as_str(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return _capped(_clean(value, strict), strict)
    if isinstance(value, (float, Decimal)):
        return _number()(value, strict)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        result = []
        for index, item in enumerate(value):
            try:
                result.append(_json_value(item, strict, depth + 1))
            except _Invalid as error:
                raise _Invalid(error.message, _join(f"[{index}]", error.path)) from None
        return result
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            key = _as_str(key)
            if not isinstance(key, str):
                raise _Invalid(f"keys must be strings, got {_show(key)}")
            try:
                key = _clean(key, strict)
            except _Invalid as error:
                raise _Invalid(f"key {_show(key)} {error.message}") from None
            try:
                result[key] = _json_value(item, strict, depth + 1)
            except _Invalid as error:
                raise _Invalid(error.message, _join(key, error.path)) from None
        return result
    raise _Invalid(f"not JSON-serialisable ({type(value).__name__})")


def _json_mapping(value, strict):
    if not isinstance(value, Mapping):
        raise _Invalid(f"must be a mapping, got {_show(value)}")
    return _json_value(value, strict)


# --- Schemas ----------------------------------------------------------------


class Field(NamedTuple):
    check: Callable[[Any, bool], Any]
    required: bool = False
    default: Any = _ABSENT


class Schema:
    """An ordered set of fields, accepting wire or snake_case names."""

    def __init__(self, fields):
        self.fields = dict(fields)
        self.aliases = {}
        for wire in self.fields:
            self.aliases[wire] = wire
            self.aliases[snake_alias(wire)] = wire

    def _unknown(self, key):
        message = "unknown field"
        if isinstance(key, str):
            close = difflib.get_close_matches(key, list(self.aliases), n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        named = isinstance(key, str) and _broken(key) is None
        return _Invalid(message, key if named else _show(key))

    def __call__(self, data, strict):
        if not isinstance(data, Mapping):
            raise _Invalid(f"must be a mapping, got {_show(data)}")
        given = {}
        for key, value in data.items():
            if value is None:
                continue
            wire = self.aliases.get(key) if isinstance(key, str) else None
            if wire is None:
                raise self._unknown(key)
            if wire in given:
                raise _Invalid(f"given twice, as {given[wire][0]!r} and {key!r}", wire)
            given[wire] = (key, value)
        result = {}
        for wire, field in self.fields.items():
            if wire not in given:
                if field.required:
                    raise _Invalid("is required", wire)
                if field.default is not _ABSENT:
                    result[wire] = field.default
                continue
            try:
                value = field.check(given[wire][1], strict)
            except _Invalid as error:
                raise _Invalid(error.message, _join(wire, error.path)) from None
            except Exception as exc:  # a lazy string that fails, an odd type...
                raise _Invalid(f"could not be checked: {_show(exc)}", wire) from exc
            if field.required and isinstance(value, str) and not value.strip():
                raise _Invalid("must not be empty", wire)
            result[wire] = value
        return result


_price = _number(minimum=0)
_strings = _list_of(_text)
_currency = _code(r"[A-Za-z]{3}", "an ISO 4217 code like 'EUR'", str.upper)

_PRODUCT_ITEM = Schema(
    {
        "productId": Field(_identifier, required=True),
        "price": Field(_price),
        "currency": Field(_currency),
        "quantity": Field(_integer(1), default=1),
    }
)

_HEAD = {
    "userId": Field(_identifier, required=True),
    "sessionId": Field(_identifier, required=True),
    "device": Field(_choice("PC", "MOBILE", "TABLET", "IOS", "ANDROID")),
    "pageUrl": Field(_text),
    "referrer": Field(_text),
    "lang": Field(_code(r"[A-Za-z]{2,3}([-_]([A-Za-z]{2}|\d{3}))?", "a language code like 'en'")),
    "currency": Field(_currency),
    "region": Field(_text),
    "testMode": Field(_boolean),
}
_TAIL = {"params": Field(_json_mapping)}

_EVENT_FIELDS = {
    "PAGE_VIEW": {"category": Field(_text), "subCategory": Field(_text)},
    "PRODUCT_VIEW": {
        "productId": Field(_identifier, required=True),
        **dict.fromkeys(
            ["title", "url", "mUrl", "image", "imageXS", "imageS", "imageM", "imageL", "imageXL"],
            Field(_text),
        ),
        "additionalImages": Field(_strings),
        "mainCategory": Field(_text),
        "category": Field(_text),
        "categories": Field(_strings),
        **dict.fromkeys(["price", "oldPrice", "specialPrice"], Field(_price)),
        "inStock": Field(_boolean),
        "stockCount": Field(_integer(0)),
        "brand": Field(_text),
        "gender": Field(_text),
        "labels": Field(_strings),
        "sizes": Field(_list_of(_either(_text, _identifier, "a string"))),
        "allSizes": Field(_list_of(_either(_text, _identifier, "a string"))),
        "colors": Field(_strings),
        "groupId": Field(_identifier),
    },
    "BASKET_OPERATIONS": {
        "step": Field(_choice("add", "remove"), required=True),
        "productId": Field(_identifier, required=True),
        "basketId": Field(_identifier),
        "price": Field(_price),
        "quantity": Field(_integer(1), default=1),
        "size": Field(_text),
    },
    "CHECKOUT": {
        "step": Field(_choice("basket", "customer", "payment", "purchase"), required=True),
        "totalPrice": Field(_price, required=True),
        "productList": Field(_list_of(_PRODUCT_ITEM, nonempty=True), required=True),
        "basketId": Field(_identifier),
        "cartUrl": Field(_text),
        "orderNo": Field(_identifier),
        "paymentType": Field(_text),
        "totalDiscount": Field(_price),
        "shipment": Field(_either(_price, _text, "a non-negative number or a string")),
        "tax": Field(_price),
        "coupon": Field(_text),
    },
    "USER_OPERATIONS": {
        "step": Field(_choice("signup", "signin", "signout", "update"), required=True),
        **dict.fromkeys(["username", "fullName", "email", "phone", "gender"], Field(_text)),
        "age": Field(_integer(0, 150)),
        "birthDate": Field(_date),
        "memberSince": Field(_date),
        "location": Field(_text),
        "segments": Field(_strings),
        "isRegistered": Field(_boolean),
        "isLogin": Field(_boolean),
        "custom": Field(_json_mapping),
    },
    "CUSTOM_EVENT": {"type": Field(_text, required=True)},
    # Not in the guide; from the vendor's own clients (spec/PERSONALISATION.md).
    "INTERACTION": {
        "type": Field(_interaction_type, required=True),
        "instanceId": Field(_identifier, required=True),
        "interactionId": Field(_identifier),
    },
    "SEARCH": {"query": Field(_visitor_query, required=True)},
}

EVENT_NAMES = tuple(_EVENT_FIELDS)
_SCHEMAS = {name: Schema({**_HEAD, **fields, **_TAIL}) for name, fields in _EVENT_FIELDS.items()}


# --- Public API -------------------------------------------------------------


def _dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _event_label(name):
    """``name`` for a DengageValidationError: clean, and printable."""
    if isinstance(name, str):
        return clean_text(name)
    try:
        if _broken(str(name)) is None:
            return name
    except Exception:
        pass
    return _show(name)


def build_event(name, fields, *, strict=True):
    """Validate ``fields`` as a ``name`` event and return its new wire dict.

    Raises :class:`DengageValidationError` on the first problem found, and
    nothing else whatever the input. With ``strict=False`` over-long strings
    are truncated and broken text cleaned instead of rejected.
    """
    try:
        return _build_event(name, fields, strict)
    except DengageValidationError:
        raise
    except Exception as exc:  # last line of defence: odd mappings, odd names...
        raise DengageValidationError(
            _event_label(name), None, f"could not be validated: {_show(exc)}"
        ) from exc


def check_fields(name, fields):
    """Check, strictly, the fields of a ``name`` event whose ids are not
    known yet (a visitor's input, checked before anything is recorded);
    raises :class:`DengageValidationError` as :func:`build_event` does."""
    build_event(name, {**fields, "userId": "-", "sessionId": "-"})


def _build_event(name, fields, strict):
    schema = _SCHEMAS.get(name) if isinstance(name, str) else None
    if schema is None:
        raise DengageValidationError(
            _event_label(name),
            None,
            f"unknown event name {_show(name)} (expected one of {', '.join(EVENT_NAMES)})",
        )
    if not isinstance(fields, Mapping):
        raise DengageValidationError(name, None, f"fields must be a mapping, got {_show(fields)}")
    fields = dict(fields)
    given_name = fields.pop("name", None)
    if given_name is not None and given_name != name:
        raise DengageValidationError(
            name, "name", f"does not match the event name, got {_show(given_name)}"
        )
    try:
        event = {"name": name, **schema(fields, strict)}
    except _Invalid as error:
        raise DengageValidationError(
            name, clean_text(error.path) or None, clean_text(error.message)
        ) from error.__cause__
    try:
        size = len(encode_event(event))
    except Exception as exc:  # UnicodeError, an int too long for json.dumps...
        raise DengageValidationError(
            name, None, f"could not be encoded as UTF-8 JSON: {_show(exc)}"
        ) from exc
    cap = dengage_settings.MAX_EVENT_BYTES
    if size > cap:
        raise DengageValidationError(name, None, f"event is {size} bytes, over the {cap}-byte cap")
    return event


def encode_event(event):
    """One event as compact UTF-8 JSON (a request body is ``[a,b,...]``)."""
    return _dumps(event).encode("utf-8")


def join_encoded(bodies):
    """A request body from events already encoded (:func:`encode_event`)."""
    return b"[" + b",".join(bodies) + b"]"


def encode_batch(events):
    """The request body for ``events``: a compact UTF-8 JSON array."""
    return join_encoded(encode_event(event) for event in events)


def _storable(value, active, depth):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= _MAX_INT_BITS else _show(value, _STORAGE_REPR_LIMIT)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, Promise):
        return clean_text(str(value))
    if isinstance(value, Decimal) and value.is_finite():
        return clean_text(str(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return clean_text(value.isoformat())
    if isinstance(value, (list, tuple, Mapping)) and id(value) not in active and depth < 50:
        active = active | {id(value)}
        if isinstance(value, Mapping):
            return {
                clean_text(key)
                if isinstance(key, str)
                else _show(key, _STORAGE_REPR_LIMIT): _safe_storable(item, active, depth + 1)
                for key, item in value.items()
            }
        return [_safe_storable(item, active, depth + 1) for item in value]
    return _show(value, _STORAGE_REPR_LIMIT)


def _safe_storable(value, active=frozenset(), depth=0):
    try:
        return _storable(value, active, depth)
    except Exception:
        return _show(value, _STORAGE_REPR_LIMIT)


def sanitize_for_storage(fields):
    """A best-effort JSON-safe copy of raw event input; never raises.

    Values JSON cannot hold become their repr, truncated to 200 characters.
    Every string (keys, values, reprs) is cleaned (:func:`clean_text`), so
    the copy holds no NUL and encodes as UTF-8. Anything that is not a
    mapping is stored under the key ``"value"``.
    """
    try:
        result = _safe_storable(fields)
        if not isinstance(result, dict):
            result = {"value": result}
        _dumps(result).encode("utf-8")
        return result
    except Exception:
        return {"value": _show(fields, _STORAGE_REPR_LIMIT)}
