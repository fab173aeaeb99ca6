"""Capture the events your tests record, and a test client that looks like a browser.

:func:`capture_events` collects every event stored in the outbox while it is
active (from any thread) and forces local ids, so nothing reaches the network::

    from dengage_django.testing import browser_client, capture_events

    class ProductPageTests(TestCase):
        def test_product_view(self):
            with capture_events() as events:
                browser_client().get("/products/42/")
            events.one("PRODUCT_VIEW", productId="42")

Django's test ``Client`` sends no User-Agent, and dengage-django treats such
requests as bots (no ids, no events): :func:`browser_client` gives a client
whose requests carry :data:`BROWSER_USER_AGENT`.

The pytest plugin (:mod:`dengage_django.testing.pytest_plugin`) offers the
same as the ``dengage_events`` and ``dengage_client`` fixtures.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from ..events.validation import EVENT_NAMES, snake_alias
from ..signals import event_recorded

if TYPE_CHECKING:
    from django.test import Client

    from ..models import OutboxEvent

__all__ = [
    "BROWSER_USER_AGENT",
    "CapturedEvents",
    "InvalidEvent",
    "browser_client",
    "capture_events",
]

#: The User-Agent of a current desktop Chrome on Windows.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36"
)

#: Longest line describing one event in an assertion message.
_LINE_LIMIT = 240

_MISSING = object()
_uids = itertools.count()


class InvalidEvent(NamedTuple):
    """An event stored as ``invalid`` (lenient mode): never sent.

    ``fields`` is the input as stored (not a wire dict); ``error`` says why it
    was refused.
    """

    name: str
    fields: Any
    error: str


class CapturedEvents:
    """The events recorded while :func:`capture_events` was active, in order.

    :attr:`events` holds the valid events, each the wire dict sent to Dengage
    (``"name"`` included); events refused as invalid (lenient mode) are kept
    apart, in :meth:`invalid`. ``len()`` and iteration are over
    :attr:`events`.

    Fields given to :meth:`one`, :meth:`assert_recorded` and
    :meth:`assert_not_recorded` use wire names (``productId``) or their
    snake_case spelling (``product_id``), and match when equal (``==``) to
    the wire value: ``productId="42"``, not ``42``.

    Events stored in a transaction are captured when stored, even if the
    transaction is rolled back later.
    """

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._invalid: list[InvalidEvent] = []

    # Reading.

    @property
    def events(self) -> list[dict[str, Any]]:
        """The valid events' wire dicts, in the order they were stored."""
        return list(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._events))

    def __repr__(self) -> str:
        return f"<CapturedEvents: {', '.join(self.names()) or 'none'}>"

    def names(self) -> list[str]:
        """The names of the valid events, in order."""
        return [event["name"] for event in self._events]

    def of(self, name: str) -> list[dict[str, Any]]:
        """The valid events called ``name``, in order."""
        return [event for event in self._events if event["name"] == name]

    def invalid(self) -> list[InvalidEvent]:
        """The events stored as invalid, with their error, in order."""
        return list(self._invalid)

    def clear(self) -> None:
        """Forget everything captured so far (capturing goes on)."""
        self._events.clear()
        self._invalid.clear()

    # Assertions.

    def one(self, name: str, **fields: Any) -> dict[str, Any]:
        """The only ``name`` event whose fields match ``fields``.

        :raises AssertionError: if there is none or several, listing what was
            recorded.
        """
        __tracebackhide__ = True
        found = self._matching(name, fields)
        if len(found) != 1:
            raise AssertionError(
                self._explain(
                    f"expected one {_describe(name, fields)}, found {len(found)}.", name, fields
                )
            )
        return found[0]

    def assert_recorded(self, name: str, **fields: Any) -> dict[str, Any]:
        """The first ``name`` event whose fields match ``fields`` (others may match too).

        :raises AssertionError: if there is none, listing what was recorded.
        """
        __tracebackhide__ = True
        found = self._matching(name, fields)
        if not found:
            raise AssertionError(
                self._explain(f"expected a {_describe(name, fields)}, found none.", name, fields)
            )
        return found[0]

    def assert_not_recorded(self, name: str, **fields: Any) -> None:
        """Check that no ``name`` event matches ``fields`` (no ``name`` at all
        when no fields are given).

        :raises AssertionError: if one does, listing what was recorded.
        """
        __tracebackhide__ = True
        found = self._matching(name, fields)
        if found:
            raise AssertionError(
                self._explain(
                    f"expected no {_describe(name, fields)}, found {len(found)}.", name, fields
                )
            )

    # Internals.

    def _add(self, event: OutboxEvent) -> None:
        """Keep an ``OutboxEvent`` just stored (the ``event_recorded`` receiver)."""
        payload = copy.deepcopy(event.payload)
        if event.status == "invalid":
            self._invalid.append(InvalidEvent(event.name, payload, event.last_error))
        elif isinstance(payload, dict):
            self._events.append({"name": event.name, **payload})

    def _matching(self, name: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
        return [event for event in self.of(name) if not _mismatches(event, fields)]

    def _explain(self, headline: str, name: str, fields: dict[str, Any]) -> str:
        """``headline``, then every event recorded (and invalid), one a line;
        each ``name`` event says whether it matches ``fields`` or how it differs."""
        lines = [headline]
        if self._events:
            lines.append(f"Recorded ({len(self._events)}):")
            for number, event in enumerate(self._events, 1):
                note = ""
                if event["name"] == name and fields:
                    problems = _mismatches(event, fields)
                    note = f"(differs: {', '.join(problems)}) " if problems else "(matches) "
                lines.append(_truncate(f"  {number}. {event['name']} {note}{_fields(event)}"))
        else:
            lines.append("Nothing was recorded.")
        if self._invalid:
            lines.append(f"Stored as invalid ({len(self._invalid)}):")
            lines.extend(_truncate(f"  - {event.name}: {event.error}") for event in self._invalid)
        return "\n".join(lines)


@contextmanager
def capture_events() -> Iterator[CapturedEvents]:
    """Capture the events stored while the block runs; ids are local meanwhile.

    Listens to :data:`dengage_django.signals.event_recorded` and overrides
    ``DENGAGE_ID_SOURCE = "local"`` (``override_settings``), so no request
    goes to Dengage for ids. Works in Django ``TestCase`` and plain pytest
    tests; the test needs database access for events to be stored. Blocks may
    nest: each captures independently.
    """
    from django.test import override_settings

    captured = CapturedEvents()
    uid = f"dengage_django.testing.capture_events:{next(_uids)}"

    def receiver(sender: type[OutboxEvent], event: OutboxEvent, **kwargs: Any) -> None:
        captured._add(event)

    event_recorded.connect(receiver, weak=False, dispatch_uid=uid)
    try:
        with override_settings(DENGAGE_ID_SOURCE="local"):
            yield captured
    finally:
        event_recorded.disconnect(dispatch_uid=uid)


def browser_client(**kwargs: Any) -> Client:
    """A ``django.test.Client`` whose requests carry :data:`BROWSER_USER_AGENT`.

    ``kwargs`` go to ``Client``; a User-Agent of your own in ``headers`` (or
    as ``HTTP_USER_AGENT``) wins.
    """
    from django.test import Client

    headers = dict(kwargs.pop("headers", None) or {})
    given = {key.lower().replace("_", "-") for key in headers}
    if "user-agent" not in given and "HTTP_USER_AGENT" not in kwargs:
        headers["user-agent"] = BROWSER_USER_AGENT
    return Client(headers=headers, **kwargs)


def _field(event: dict[str, Any], key: str) -> Any:
    """``event``'s value for ``key``, a wire or snake_case name, or ``_MISSING``."""
    if key in event:
        return event[key]
    wanted = snake_alias(key)
    for wire, value in event.items():
        if snake_alias(wire) == wanted:
            return value
    return _MISSING


def _mismatches(event: dict[str, Any], fields: dict[str, Any]) -> list[str]:
    """How ``event`` differs from ``fields``: one phrase a field, none if it matches."""
    problems = []
    for key, expected in fields.items():
        value = _field(event, key)
        if value is _MISSING:
            problems.append(f"no {key}")
        elif value != expected:
            problems.append(f"{key}={value!r}")
    return problems


def _describe(name: str, fields: dict[str, Any]) -> str:
    """``PRODUCT_VIEW with productId='42'``; notes a name that is no event's."""
    text = f"{name} event"
    if fields:
        text += " with " + ", ".join(f"{key}={value!r}" for key, value in fields.items())
    if name not in EVENT_NAMES:
        text += f" ({name!r} is not an event name: {', '.join(EVENT_NAMES)})"
    return text


def _fields(event: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in event.items() if key != "name")


def _truncate(text: str) -> str:
    return text if len(text) <= _LINE_LIMIT else text[: _LINE_LIMIT - 3] + "..."
