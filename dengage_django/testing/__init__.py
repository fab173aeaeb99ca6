"""Test helpers: a fake Dengage data center, event capture, a pytest plugin.

* :class:`FakeDengageServer` (:mod:`.server`): a real HTTP server that
  answers like Dengage's data center, with fault injection and campaigns
  (:class:`Campaign`, :class:`Source`);
  ``python -m dengage_django.testing`` runs it alone (:mod:`.__main__`).
* :func:`capture_events`, :class:`CapturedEvents`, :func:`browser_client`
  and :data:`BROWSER_USER_AGENT` (:mod:`.capture`): assert on the events your
  shop's code records, with a test client that looks like a browser.
* :mod:`.pytest_plugin`: the ``dengage_events``, ``dengage_client`` and
  ``dengage_server`` fixtures, loaded by pytest on its own (entry point
  ``pytest11``) and inert until a test asks for one of them.

Importing this package needs neither Django settings nor the app registry:
the capture helpers (and the command line's ``main``) are imported on first
use.
"""

from typing import TYPE_CHECKING, Any

from .server import (
    COLLABORATIVE,
    DEFAULT_API_KEY,
    DEFAULT_ORIGIN,
    ENDPOINTS,
    EVENTS_PATH,
    KEYS_PATH,
    MAX_KEY_COUNT,
    SMART_OFFERS,
    STATIC_ITEMS,
    Campaign,
    FakeDengageServer,
    RecordedRequest,
    Source,
)

if TYPE_CHECKING:
    from .__main__ import PRINTED_FIELDS as PRINTED_FIELDS
    from .__main__ import main as main
    from .capture import (
        BROWSER_USER_AGENT,
        CapturedEvents,
        InvalidEvent,
        browser_client,
        capture_events,
    )

__all__ = [
    "BROWSER_USER_AGENT",
    "COLLABORATIVE",
    "DEFAULT_API_KEY",
    "DEFAULT_ORIGIN",
    "ENDPOINTS",
    "EVENTS_PATH",
    "KEYS_PATH",
    "MAX_KEY_COUNT",
    "SMART_OFFERS",
    "STATIC_ITEMS",
    "Campaign",
    "CapturedEvents",
    "FakeDengageServer",
    "InvalidEvent",
    "RecordedRequest",
    "Source",
    "browser_client",
    "capture_events",
]

#: Names imported on first use, and the submodule that defines each.
_LAZY = {
    "BROWSER_USER_AGENT": "capture",
    "CapturedEvents": "capture",
    "InvalidEvent": "capture",
    "browser_client": "capture",
    "capture_events": "capture",
    "PRINTED_FIELDS": "__main__",
    "main": "__main__",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
