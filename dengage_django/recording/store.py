"""Recording events: validate, then store in the outbox.

:func:`track` is the module-level entry point (``dengage_django.track``)
for code with or without a request. Validation happens here, at record
time, so an invalid event never reaches the wire:

* strict mode (``DENGAGE_STRICT``, default ``DEBUG``) raises
  :class:`~dengage_django.exceptions.DengageValidationError` to the caller;
* lenient mode stores the event as ``invalid`` with its reason, logs a
  warning, and returns normally: tracking never breaks a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError

from .. import outbox
from ..conf import dengage_settings
from ..decisions.attribution import strip_attribution
from ..events.users import user_fields, withhold_contact
from ..events.validation import (
    build_event,
    clean_text,
    sanitize_for_storage,
    snake_alias,
    visitor_text,
)
from ..exceptions import DengageValidationError
from ..models import OutboxEvent

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

SETTING_DEFAULTS = (
    ("lang", "DEFAULT_LANG"),
    ("currency", "DEFAULT_CURRENCY"),
    ("region", "DEFAULT_REGION"),
)


#: Where a common field comes from when its setting is not set, by wire
#: name: an integration's (:func:`register_fallback`; Oscar's currency).
FALLBACKS: dict[str, Callable[[], Any]] = {}


def register_fallback(wire, value):
    """Have ``value()`` fill common field ``wire`` (``"lang"``,
    ``"currency"``, ``"region"``) when its ``DENGAGE_DEFAULT_*`` setting is
    not set: an integration's app calls this in ``ready()``."""
    if wire not in dict(SETTING_DEFAULTS):
        raise ValueError(f"{wire!r} is not one of {[name for name, _ in SETTING_DEFAULTS]}")
    FALLBACKS[wire] = value


def default_fields():
    """Common fields the settings (or integrations' fallbacks) fill when the
    caller gives none."""
    fields = {}
    for wire, setting in SETTING_DEFAULTS:
        value = getattr(dengage_settings, setting)
        if not value and wire in FALLBACKS:
            value = FALLBACKS[wire]()
        if value:
            fields[wire] = value
    if dengage_settings.TEST_MODE:
        fields["testMode"] = True
    return fields


def request_fields(request):
    """``pageUrl`` and ``referrer`` of a request (either may be missing).

    They are the visitor's text, not the shop's: cleaned of broken unicode
    and NULs and cut to ``DENGAGE_MAX_STRING_LENGTH``, never an error.
    """
    fields = {}
    try:
        fields["pageUrl"] = visitor_text(request.build_absolute_uri())
    except Exception:  # DisallowedHost and friends: no URL rather than no event
        logger.debug("no pageUrl for this request", exc_info=True)
    referrer = request.META.get("HTTP_REFERER")
    if referrer:
        fields["referrer"] = visitor_text(referrer)
    return fields


#: Why an event recorded with no request, no user and no ids is invalid.
NO_IDS = (
    "is required: pass user=<the user the event is about>, or userId and sessionId, "
    "or record inside a request tracked by DengageMiddleware"
)


def track(
    name: str,
    *,
    request: HttpRequest | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    **wire_fields: Any,
) -> OutboxEvent | None:
    """Validate and record one event; returns the stored ``OutboxEvent``.

    ``wire_fields`` use the guide's names (``productId``) or snake_case
    (``product_id``). Who the event is about (:mod:`.subject`): ``user``
    when given (a USER_OPERATIONS event then carries that user's fields),
    else the visitor of ``request`` (or of the current request); outside a
    tracked request, the ``userId``/``sessionId`` given. ``request``
    without the middleware fills ``pageUrl`` and ``referrer``. Returns
    ``None`` when ``DENGAGE_ENABLED`` is off, the event is not recorded
    (an untracked visitor, a user without consent) or (lenient mode)
    storing failed.
    """
    from .subject import real_user, record_about, request_tracker

    if not dengage_settings.ENABLED:
        return None
    user = real_user(user)
    if user is not None and name == "USER_OPERATIONS":
        wire_fields = merge_fields(user_fields(user), wire_fields)
    tracker = request_tracker(request)
    given_ids = "userId" in wire_fields or "user_id" in wire_fields
    if user is not None or (tracker is not None and (tracker.active or not given_ids)):
        return record_about(name, user, wire_fields, request=request)
    # No tracked visitor: the caller's own ids (a webhook, a task), if any.
    fields = default_fields()
    if request is not None and tracker is None:
        fields.update(request_fields(request))
    fields = merge_fields(fields, wire_fields)
    if not given_ids:
        return _store_one(reject(name, fields, DengageValidationError(name, "userId", NO_IDS)))
    return record(name, fields)


def merge_fields(defaults, given):
    """``given`` over ``defaults``, where a default also yields to the
    snake_case spelling of its wire name (``page_url`` beats ``pageUrl``).
    A ``None`` in ``given`` means "not given": the default stays."""
    given = {key: value for key, value in given.items() if value is not None}
    taken = set(given) | {snake_alias(key) for key in given if isinstance(key, str)}
    merged = {
        key: value
        for key, value in defaults.items()
        if key not in taken and snake_alias(key) not in taken
    }
    merged.update(given)
    return merged


#: Wire fields holding a URL, reported without attribution parameters
#: (:func:`~dengage_django.decisions.attribution.strip_attribution`), as the
#: vendor's web library reports every URL.
URL_FIELDS = ("pageUrl", "url", "referrer")


def prepare(name: str, fields: Mapping[str, Any], *, strict: bool | None = None) -> OutboxEvent:
    """Validate ``fields`` as event ``name``: an unsaved ``OutboxEvent``.

    Strict mode raises :class:`DengageValidationError`; lenient mode returns
    an ``invalid`` row carrying the reason.
    """
    strict = dengage_settings.STRICT if strict is None else strict
    if not dengage_settings.SEND_CONTACT_DETAILS and isinstance(fields, dict):
        fields = withhold_contact(fields)
    try:
        event = build_event(name, fields, strict=strict)
    except DengageValidationError as exc:
        return reject(name, fields, exc, strict=strict)
    for key in URL_FIELDS:
        if key in event:
            # A widget link's attribution parameters say where a visit came
            # from, not which page it is (the landing's INTERACTION has them).
            event[key] = strip_attribution(event[key])
    return outbox.new_event(name, event)


def reject(name, fields, error, *, strict=None):
    """An invalid event: raise (strict) or an unsaved ``invalid`` row."""
    strict = dengage_settings.STRICT if strict is None else strict
    if strict:
        raise error
    logger.warning("invalid Dengage event kept as invalid, not sent: %s", error)
    return outbox.new_event(
        clean_text(str(name))[:32],
        sanitize_for_storage(fields),
        status=OutboxEvent.Status.INVALID,
        error=str(error),
    )


def store(events: Sequence[OutboxEvent], *, strict: bool | None = None) -> bool:
    """Insert unsaved events in one statement; returns whether it worked.

    A failure is raised in strict mode, logged otherwise (see
    :func:`.outbox.record`: it cannot poison the caller's transaction).
    """
    strict = dengage_settings.STRICT if strict is None else strict
    try:
        outbox.record(events)
    except DatabaseError:
        if strict:
            raise
        logger.exception(
            "could not store Dengage event(s) %s", ", ".join(event.name for event in events)
        )
        return False
    return True


def store_batch(events: Sequence[OutboxEvent], *, strict: bool | None = None) -> list:
    """Store ``events`` in one INSERT; if that fails, each on its own, so one
    bad row loses only itself. Returns the events that could not be stored
    (a failure raises in strict mode)."""
    if not events or store(events, strict=strict):
        return []
    if len(events) == 1:
        return list(events)
    return [event for event in events if not store([event], strict=strict)]


def record(
    name: str, fields: Mapping[str, Any], *, strict: bool | None = None
) -> OutboxEvent | None:
    """Validate and store one event now; the row, or ``None`` if storing
    failed in lenient mode."""
    return _store_one(prepare(name, fields, strict=strict), strict=strict)


def _store_one(event, *, strict=None):
    return event if store([event], strict=strict) else None
