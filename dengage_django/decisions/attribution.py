"""The attribution parameters of a widget's links (see ``spec/PERSONALISATION.md``).

Dengage credits a visit, and the sale after it, to a campaign through
INTERACTION events. A product link of a widget carries three query
parameters; a visitor landing with them makes the shop record INTERACTION
``{type: _sgm_action, instanceId: _sgm_campaign, interactionId:
_sgm_source}``:

* :func:`with_attribution` adds ``_sgm_campaign=<instanceId>``,
  ``_sgm_action=click`` and ``_sgm_source=<actionId>`` to a link;
* :func:`attribution_from_query` reads them back from a landing request's
  query (``request.GET``) as an :class:`Attribution`, or reads
  ``utm_campaign``, ``utm_medium`` and ``utm_content`` in those roles when
  ``utm_source`` is ``segmentify`` (the spelling of e-mails and ads);
* :func:`strip_attribution` removes both spellings from a URL reported in an
  event (``pageUrl``, ``url``), as the vendor's web library does;
* :func:`is_web_link` tells a link a browser follows as a web page
  (``http``/``https`` or relative) from ``javascript:``, ``data:``,
  ``mailto:`` and the like.

Rules
-----
* Pure: text in, text out; no request, no settings. Nothing here raises on
  odd input: what is not a ``str`` is returned as it came (``None`` stays
  ``None``), a URL that does not parse is handled as text all the same.
* A URL is never parsed and rebuilt: its query is the text between the
  first ``?`` and the first ``#``, split on ``&``. Parameters that are not
  ours stay byte for byte, in their order, with the fragment; only empty
  ``&&`` pieces go, and a ``?`` left with nothing after it.
* A parameter is ours when its name, percent-decoded, starts with ``_sgm_``
  (all of them: a stale ``_sgm_*`` would only confuse the attribution), or
  is ``utm_source``, ``utm_campaign``, ``utm_medium`` or ``utm_content``
  while the last ``utm_source`` is ``segmentify`` (any case; the last value
  counts, as with ``request.GET``).
* Values read from a query are trimmed and must be non-blank, printable and
  at most 128 characters (an id's cap); all three are needed, else there is
  no attribution. The ``_sgm_*`` spelling wins over the ``utm_*`` one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar, overload
from urllib.parse import quote, unquote_plus

__all__ = [
    "ATTRIBUTION_PARAMETERS",
    "UTM_PARAMETERS",
    "Attribution",
    "attribution_from_query",
    "is_web_link",
    "strip_attribution",
    "with_attribution",
]

#: In the roles of an INTERACTION's ``instanceId``, ``type`` and
#: ``interactionId``.
ATTRIBUTION_PARAMETERS = ("_sgm_campaign", "_sgm_action", "_sgm_source")

#: The same roles when ``utm_source`` is :data:`UTM_SOURCE`.
UTM_PARAMETERS = ("utm_campaign", "utm_medium", "utm_content")

UTM_SOURCE = "segmentify"

#: The INTERACTION type a followed product link stands for.
CLICK = "click"

#: Longest value taken from a query (the cap on ids in events).
MAX_VALUE_LENGTH = 128

_PREFIX = "_sgm_"
_UTM_NAMES = frozenset({"utm_source", *UTM_PARAMETERS})
_WEB_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Browsers drop tabs and newlines anywhere in a URL, and leading controls
# and spaces: "java\tscript:" is still javascript.
_DROPPED = re.compile(r"[\t\n\r]")
_LEADING = "".join(map(chr, range(0x21)))

_T = TypeVar("_T")


class Attribution(NamedTuple):
    """What a landing URL credits: an INTERACTION's ``type``, ``instanceId``
    and ``interactionId``."""

    type: str
    instance_id: str
    interaction_id: str


def is_web_link(url: object) -> bool:
    """Whether ``url`` is a ``str`` a browser would follow as a web page:
    ``http``/``https`` (any case) or relative (no scheme, ``//host`` too)."""
    if not isinstance(url, str):
        return False
    cleaned = _DROPPED.sub("", url).lstrip(_LEADING)
    match = _SCHEME.match(cleaned)
    return match is None or match.group(1).lower() in _WEB_SCHEMES


def _split(url: str) -> tuple[str, str | None, str]:
    """``url`` as (what precedes the query, the query or ``None``, ``#`` and
    the fragment or ``""``)."""
    before_fragment, hash_sign, fragment = url.partition("#")
    head, question_mark, query = before_fragment.partition("?")
    return head, (query if question_mark else None), hash_sign + fragment


def _name(piece: str) -> str:
    return unquote_plus(piece.partition("=")[0])


def _join(head: str, pieces: list[str], tail: str) -> str:
    return head + ("?" + "&".join(pieces) if pieces else "") + tail


@overload
def with_attribution(url: str, instance_id: str, action_id: str) -> str: ...
@overload
def with_attribution(url: _T, instance_id: str, action_id: str) -> _T: ...
def with_attribution(url: Any, instance_id: str, action_id: str) -> Any:
    """``url`` with ``_sgm_campaign=<instance_id>``, ``_sgm_action=click``
    and ``_sgm_source=<action_id>`` at the end of its query.

    Any ``_sgm_*`` parameter already there is replaced; the rest of the query
    and the fragment stay as they are. A URL that is not a web link
    (:func:`is_web_link`: ``mailto:``, ``javascript:``...) and anything that
    is not a ``str`` (``None``) come back unchanged.
    """
    if not isinstance(url, str) or not is_web_link(url):
        return url
    head, query, tail = _split(url)
    kept = [piece for piece in (query or "").split("&") if piece and not _ours(_name(piece))]
    values = (instance_id, CLICK, action_id)
    added = [
        f"{name}={quote(str(value), safe='')}"
        for name, value in zip(ATTRIBUTION_PARAMETERS, values, strict=True)
    ]
    return _join(head, kept + added, tail)


def _ours(name: str) -> bool:
    return name.startswith(_PREFIX)


def _segmentify_utm(pieces: list[str], names: list[str]) -> bool:
    """Whether the last ``utm_source`` of the query names Segmentify."""
    sources = [piece for piece, name in zip(pieces, names, strict=True) if name == "utm_source"]
    if not sources:
        return False
    value = unquote_plus(sources[-1].partition("=")[2])
    return value.strip().lower() == UTM_SOURCE


@overload
def strip_attribution(url: str) -> str: ...
@overload
def strip_attribution(url: _T) -> _T: ...
def strip_attribution(url: Any) -> Any:
    """``url`` without its attribution parameters: every ``_sgm_*`` one, and
    ``utm_source``, ``utm_campaign``, ``utm_medium``, ``utm_content`` when
    the last ``utm_source`` is ``segmentify``.

    A URL without any comes back as it is (the same object); so does
    anything that is not a ``str``.
    """
    if not isinstance(url, str) or "?" not in url:
        return url
    head, query, tail = _split(url)
    if not query:
        return url
    pieces = query.split("&")
    names = [_name(piece) for piece in pieces]
    utm = _segmentify_utm(pieces, names)
    drop = [_ours(name) or (utm and name in _UTM_NAMES) for name in names]
    if not any(drop):
        return url
    kept = [piece for piece, dropped in zip(pieces, drop, strict=True) if piece and not dropped]
    return _join(head, kept, tail)


def _value(query: Mapping[str, Any], name: str) -> str | None:
    """The usable value of ``name`` in ``query``, or ``None``.

    ``query.get`` gives a ``QueryDict``'s last value; a list (from
    ``parse_qs``) counts by its last item too.
    """
    value = query.get(name)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_VALUE_LENGTH or not value.isprintable():
        return None
    return value


def _read(query: Mapping[str, Any], names: tuple[str, str, str]) -> Attribution | None:
    instance_id, kind, interaction_id = (_value(query, name) for name in names)
    if instance_id is None or kind is None or interaction_id is None:
        return None
    return Attribution(kind, instance_id, interaction_id)


def attribution_from_query(query: object) -> Attribution | None:
    """The :class:`Attribution` a landing request's query carries, or ``None``.

    ``query`` is a mapping of parameter names to values: ``request.GET``, a
    ``dict``, or ``parse_qs``'s lists. ``_sgm_campaign``, ``_sgm_action``
    and ``_sgm_source`` give (``type``, ``instance_id``,
    ``interaction_id``) = (action, campaign, source); failing those,
    ``utm_medium``, ``utm_campaign`` and ``utm_content`` do the same when
    ``utm_source`` is ``segmentify``. Anything else, or a value missing,
    blank, too long or unprintable, gives ``None``.
    """
    if not isinstance(query, Mapping):
        return None
    found = _read(query, ATTRIBUTION_PARAMETERS)
    if found is not None:
        return found
    source = _value(query, "utm_source")
    if source is not None and source.lower() == UTM_SOURCE:
        return _read(query, UTM_PARAMETERS)
    return None
