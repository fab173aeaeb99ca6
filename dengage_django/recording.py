"""Recording events: validate, then store in the outbox.

:func:`track` is the module-level entry point (``dengage_django.track``)
for code with or without a request. Validation happens here, at record
time, so an invalid event never reaches the wire:

* strict mode (``DENGAGE_STRICT``, default ``DEBUG``) raises
  :class:`~dengage_django.exceptions.DengageValidationError` to the caller;
* lenient mode stores the event as ``invalid`` with its reason, logs a
  warning, and returns normally: tracking never breaks a page.
"""

import logging

from django.db import DatabaseError, connections, transaction

from . import outbox
from .conf import dengage_settings
from .events import build_event, sanitize_for_storage, snake_alias
from .exceptions import DengageValidationError
from .models import OutboxEvent

logger = logging.getLogger(__name__)

SETTING_DEFAULTS = (
    ("lang", "DEFAULT_LANG"),
    ("currency", "DEFAULT_CURRENCY"),
    ("region", "DEFAULT_REGION"),
)


def default_fields():
    """Common fields the settings fill when the caller gives none."""
    fields = {}
    for wire, setting in SETTING_DEFAULTS:
        value = getattr(dengage_settings, setting)
        if value:
            fields[wire] = value
    if dengage_settings.TEST_MODE:
        fields["testMode"] = True
    return fields


def request_fields(request):
    """``pageUrl`` and ``referrer`` of a request (either may be missing)."""
    fields = {}
    try:
        fields["pageUrl"] = request.build_absolute_uri()
    except Exception:  # DisallowedHost and friends: no URL rather than no event
        logger.debug("no pageUrl for this request", exc_info=True)
    referrer = request.META.get("HTTP_REFERER")
    if referrer:
        fields["referrer"] = referrer
    return fields


def track(name, *, request=None, user=None, **wire_fields):
    """Validate and record one event; returns the stored ``OutboxEvent``.

    ``wire_fields`` use the guide's names (``productId``) or snake_case
    (``product_id``). ``request`` fills ``pageUrl`` and ``referrer``;
    ``user`` fills ``username`` of a USER_OPERATIONS event. Returns ``None``
    when ``DENGAGE_ENABLED`` is off or (lenient mode) storing failed.
    """
    if not dengage_settings.ENABLED:
        return None
    fields = default_fields()
    if request is not None:
        fields.update(request_fields(request))
    if user is not None and name == "USER_OPERATIONS" and getattr(user, "is_authenticated", False):
        fields["username"] = user.get_username()
    fields = _merge(fields, wire_fields)
    return record(name, fields)


def _merge(defaults, given):
    """``given`` over ``defaults``, where a default also yields to the
    snake_case spelling of its wire name (``page_url`` beats ``pageUrl``)."""
    taken = set(given) | {snake_alias(key) for key in given}
    merged = {key: value for key, value in defaults.items() if snake_alias(key) not in taken}
    merged.update(given)
    return merged


def record(name, fields, *, strict=None):
    """Validate ``fields`` as event ``name`` and store it (see module doc)."""
    strict = dengage_settings.STRICT if strict is None else strict
    try:
        event = build_event(name, fields, strict=strict)
    except DengageValidationError as exc:
        if strict:
            raise
        logger.warning("invalid Dengage event kept as invalid, not sent: %s", exc)
        return _store(
            str(name)[:32],
            sanitize_for_storage(fields),
            status=OutboxEvent.Status.INVALID,
            error=str(exc),
            strict=strict,
        )
    return _store(name, event, strict=strict)


def _store(name, payload, *, strict, **kwargs):
    alias = outbox.db_alias()
    try:
        if connections[alias].in_atomic_block:
            # A savepoint, so a failed insert cannot poison the caller's
            # transaction in lenient mode.
            with transaction.atomic(using=alias):
                return outbox.enqueue(name, payload, **kwargs)
        return outbox.enqueue(name, payload, **kwargs)
    except DatabaseError:
        if strict:
            raise
        logger.exception("could not store a Dengage %s event", name)
        return None
