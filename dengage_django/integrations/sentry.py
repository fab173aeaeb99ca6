"""The API key never leaves through Sentry either.

sentry-sdk's stdlib integration (on by default) records every outgoing HTTP
request with its query string (``http.query: apiKey=...``). The record goes
out as a breadcrumb on the next error event, whether tracing is on or off,
and as span data in transactions. Three callbacks for ``sentry_sdk.init``
clean what it sends::

    from dengage_django.integrations import sentry as dengage_sentry

    sentry_sdk.init(
        dsn="...",
        before_send=dengage_sentry.before_send,
        before_send_transaction=dengage_sentry.before_send_transaction,
        before_breadcrumb=dengage_sentry.before_breadcrumb,
    )

:func:`install` does the same without any callback, through sentry-sdk's
public global event processors. It also masks the key in sentry-sdk's own
``debug=True`` log lines.

What gets masked, anywhere in an event, a transaction (including its spans'
``data`` and ``description``) or a breadcrumb, in mapping keys and values,
lists, tuples and sets:

* the configured key (``DENGAGE_API_KEY``) wherever it appears, and any
  ``apiKey=...`` query parameter (:func:`dengage_django.delivery.redaction.redact`);
* the value of an ``apiKey`` or ``X-Sfy-Api-Key`` field, whatever the value
  is: a mapping entry (``HTTP_X_SFY_API_KEY`` too), a ``(name, value)``
  pair, or text such as ``X-Sfy-Api-Key: ...`` or ``'apiKey': '...'``.

If the walk fails on a structure it can't read, the event or breadcrumb is
dropped: losing an error report is better than leaking the key. Containers
are copied only where something changed. The caller's objects, such as a
dict given to ``set_extra``, are never modified in place.

This module needs neither sentry-sdk nor configured Django settings to be
imported, or for its callbacks to run. Without settings, only the name
patterns apply, since the configured key can't be read.
"""

import logging
import re
import threading
from collections.abc import Mapping

__all__ = [
    "before_breadcrumb",
    "before_send",
    "before_send_transaction",
    "install",
    "uninstall",
]

logger = logging.getLogger(__name__)

REDACTED = "[REDACTED]"

#: Names of fields that hold a Dengage API key, normalised (lower case, ``-``
#: for ``_``, without WSGI's ``HTTP_`` prefix).
SECRET_FIELDS = frozenset({"apikey", "x-sfy-api-key"})

#: sentry-sdk's own logger (its ``debug=True`` lines show outgoing URLs).
SENTRY_LOGGER = "sentry_sdk.errors"

# ``apiKey=v``, ``X-Sfy-Api-Key: v``, ``'apiKey': 'v'``, ``("X-Sfy-Api-Key", "v")``,
# ``\"apiKey\": \"v\"`` (JSON in a string); not a value already masked.
_FIELD_IN_TEXT = re.compile(
    r"""((?:apiKey|X[-_]Sfy[-_]Api[-_]Key)\\?["']?\s*[:=,]\s*b?\\?["']?)"""
    r"""(?!\[REDACTED\])[^\s"'\\,;&}\])]+""",
    re.IGNORECASE,
)

#: Nesting deeper than this is replaced by ``REDACTED`` rather than walked.
MAX_DEPTH = 64

_CYCLE = "<cyclic>"  # what sentry-sdk's serializer writes for a cycle
_SEQUENCES = (list, tuple, set, frozenset)  # what the serializer walks (and arrays)


def before_send(event, hint):
    """``before_send`` for ``sentry_sdk.init``: ``event`` without the key, or
    ``None`` (dropped) if it could not be scrubbed."""
    return _scrub(event, "event")


def before_send_transaction(event, hint):
    """``before_send_transaction`` for ``sentry_sdk.init``: the transaction
    (its spans included) without the key, or ``None`` if it could not be
    scrubbed."""
    return _scrub(event, "transaction")


def before_breadcrumb(crumb, hint):
    """``before_breadcrumb`` for ``sentry_sdk.init``: the breadcrumb without
    the key (``data.url``, ``data["http.query"]``, its message...), or
    ``None`` if it could not be scrubbed."""
    return _scrub(crumb, "breadcrumb")


_lock = threading.Lock()
_registered = False  # no public API removes a global event processor: it stays
_active = False


def install():
    """Scrub the events and transactions sentry-sdk sends (breadcrumbs go out
    inside events, and are scrubbed there), and its debug log lines, with no
    callback in ``sentry_sdk.init``.

    Registers a global event processor (sentry-sdk's public
    ``sentry_sdk.scope.add_global_event_processor``) whether or not Sentry is
    initialised yet, and a filter on sentry-sdk's logger. Idempotent; returns
    whether sentry-sdk is installed (without it, this does nothing).

    Event processors run before sentry-sdk's last steps, so what it adds
    afterwards is not seen: the stack (with local variables) that
    ``attach_stacktrace=True`` adds to ``capture_message`` events. Sentry
    logs (``enable_logs``) and streamed spans (``trace_lifecycle="stream"``)
    bypass event processors too. ``before_send`` covers the stack; the
    others need ``before_send_log`` / ``before_send_span``.
    """
    global _registered, _active
    try:
        from sentry_sdk.scope import add_global_event_processor
    except ImportError:
        return False
    with _lock:
        if not _registered:
            add_global_event_processor(_event_processor)
            _registered = True
        if not _active:
            logging.getLogger(SENTRY_LOGGER).addFilter(_log_filter)
            _active = True
    return True


def uninstall():
    """Undo :func:`install` (the processor stays registered, inert); returns
    whether it was installed. For tests that need to see what leaks."""
    global _active
    with _lock:
        was_active, _active = _active, False
        logging.getLogger(SENTRY_LOGGER).removeFilter(_log_filter)
    return was_active


def _event_processor(event, hint):
    if not _active:
        return event
    is_transaction = isinstance(event, dict) and event.get("type") == "transaction"
    return _scrub(event, "transaction" if is_transaction else "event")


class _SentryLogFilter(logging.Filter):
    """Masks the key in sentry-sdk's own log lines (``debug=True`` prints each
    outgoing URL); drops a line it cannot clean."""

    def filter(self, record):
        try:
            message = record.getMessage()
            cleaned = _scrubber().text(message)
        except Exception:
            return False
        if cleaned is not message:
            record.msg, record.args = cleaned, None
        return True


_log_filter = _SentryLogFilter()


def _configured_key():
    """``DENGAGE_API_KEY``, or ``""`` when it cannot be read (Django not
    configured yet)."""
    try:
        from ..conf import dengage_settings

        key = dengage_settings.API_KEY
    except Exception:
        return ""
    return str(key) if key else ""


def _scrubber():
    from ..delivery.redaction import redact

    return _Scrubber(_configured_key(), redact)


def _scrub(obj, kind):
    if obj is None:
        return None
    try:
        return _scrubber().value(obj)
    except Exception as exc:  # RecursionError, a mapping that cannot be read...
        _report_drop(kind, exc)
        return None


_reporting = threading.local()


def _report_drop(kind, exc):
    if getattr(_reporting, "active", False):  # the warning's own breadcrumb failed
        return
    _reporting.active = True
    try:
        logger.warning(
            "Dropped a Sentry %s that could not be scrubbed of the Dengage API key (%s)",
            kind,
            type(exc).__name__,
        )
    finally:
        _reporting.active = False


def _is_secret_field(name):
    if not isinstance(name, str):
        return False
    name = name.lower().replace("_", "-")
    if name.startswith("http-"):
        name = name[len("http-") :]
    return name in SECRET_FIELDS


def _blank(value):
    return value is None or (isinstance(value, (str, bytes)) and not value)


def _mask_field(match):
    return match.group(1) + REDACTED


class _Scrubber:
    """One walk: the key to mask, and the containers on the current path
    (cycles)."""

    def __init__(self, secret, redact):
        self.secret = secret
        self.redact = redact
        self.path = set()

    def text(self, text):
        """``text`` masked; the very same object when nothing changed."""
        cleaned = _FIELD_IN_TEXT.sub(_mask_field, self.redact(text, self.secret))
        return text if cleaned == text else cleaned

    def value(self, value, depth=0):
        """``value`` masked: the same object when nothing changed, else a
        copy (containers) or the masked text (anything else)."""
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, (bytes, bytearray)):
            text = value.decode("utf-8", "replace")
            cleaned = self.text(text)
            return value if cleaned is text else cleaned
        if depth >= MAX_DEPTH:
            return REDACTED
        if id(value) in self.path:
            return _CYCLE
        self.path.add(id(value))
        try:
            if isinstance(value, Mapping):
                return self.mapping(value, depth)
            if isinstance(value, _SEQUENCES):
                return self.sequence(value, depth)
            if _is_annotated(value):
                inner = self.value(value.value, depth + 1)
                return value if inner is value.value else type(value)(inner, value.metadata)
            return self.other(value, depth)
        finally:
            self.path.discard(id(value))

    def mapping(self, mapping, depth):
        result, changed = {}, False
        for key, item in mapping.items():
            new_key = self.key(key)
            if _is_secret_field(key) and not _blank(item):
                new_item = REDACTED
            else:
                new_item = self.value(item, depth + 1)
            changed = changed or new_key is not key or new_item is not item
            result[new_key] = new_item
        return result if changed else mapping

    def key(self, key):
        if isinstance(key, str) or key is None or isinstance(key, (bool, int, float)):
            return self.value(key)
        try:
            text = str(key)  # what the serializer will write
        except Exception:
            return key
        cleaned = self.text(text)
        return key if cleaned is text else cleaned

    def sequence(self, sequence, depth):
        items = list(sequence)
        if len(items) == 2 and _is_secret_field(items[0]) and not _blank(items[1]):
            new_items = [items[0], REDACTED]  # a (header, value) pair
        else:
            new_items = [self.value(item, depth + 1) for item in items]
        if all(new is old for new, old in zip(new_items, items, strict=True)):
            return sequence
        for kind in _SEQUENCES:
            if isinstance(sequence, kind):
                return kind(new_items)
        return new_items

    def other(self, obj, depth):
        """Anything else is written as its repr by sentry-sdk's serializer:
        masked text if that repr shows the key."""
        sentry_repr = getattr(type(obj), "__sentry_repr__", None)
        try:
            shown = sentry_repr(obj) if callable(sentry_repr) else repr(obj)
        except Exception:  # the serializer writes a placeholder for a broken repr
            return obj
        cleaned = self.value(shown, depth + 1)
        return obj if cleaned is shown else cleaned


def _is_annotated(value):
    """sentry-sdk's ``AnnotatedValue`` (a value with metadata, before
    serialization), recognised without importing sentry-sdk."""
    return (
        type(value).__name__ == "AnnotatedValue"
        and hasattr(value, "value")
        and hasattr(value, "metadata")
    )
