"""Auth signals and model saves become events, with no code in the shop.

* ``user_logged_in`` -> USER_OPERATIONS ``signin``; ``user_logged_out`` ->
  ``signout``;
* ``post_save`` of the user model: created -> ``signup``; otherwise
  ``update``, only when a field that is sent to Dengage changed since the
  user was loaded (so ``last_login`` and password-only saves send nothing);
* models registered with :func:`dengage_django.register_model`.

Every USER_OPERATIONS step carries the same fields (:func:`..events.users.user_fields`).
Whose ids they carry is :mod:`.subject`'s business; linking a device to an
account happens here:

* sign-up by an anonymous visitor links the new account to the visitor's
  userId (their anonymous history joins it); sign-up by someone logged in
  (staff) or outside a request links it to a fresh id when first needed;
* sign-in: a linked user's id is adopted by the device (its cookie is
  rewritten); an unlinked user takes the device's id unless another user is
  linked to it, else a fresh one; every sign-in starts a new sessionId;
* sign-out: the ``signout`` event carries the user's ids, then the device
  gets a fresh userId and sessionId, so the next person on a shared
  browser starts clean.

Logins on excluded paths (the admin), by bots and by non-browsers link,
adopt and record nothing. None of this raises into a login or a save
outside strict mode.
"""

import copy
import datetime
import logging
from decimal import Decimal
from uuid import UUID

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_init, post_save

from ..conf import dengage_settings
from ..events.users import user_fields
from ..tracking.context import current_tracker
from ..tracking.identity import held_by_another, link, linked_user_id, new_ids
from ..tracking.policy import NO_CONSENT, NOT_BROWSER
from .subject import is_request_user, record_about, remember_consent, request_tracker

logger = logging.getLogger(__name__)

SNAPSHOT = "_dengage_user_fields"
#: What a snapshot holds: the user's column values, or the fields themselves.
COLUMNS, FIELDS = "columns", "fields"
#: No column changed since the snapshot.
UNCHANGED = object()
#: Saves touching only these fields never change what is sent.
UNSENT_FIELDS = frozenset({"last_login", "password"})


def _guarded(function):
    """Run a receiver; outside strict mode log its failure instead of raising."""

    def receiver(*args, **kwargs):
        if not (dengage_settings.ENABLED and dengage_settings.USER_EVENTS):
            return None
        try:
            return function(*args, **kwargs)
        except Exception:
            if dengage_settings.STRICT:
                raise
            logger.exception("dengage_django: %s failed", function.__name__)
            return None

    receiver.__name__ = function.__name__
    receiver.__doc__ = function.__doc__
    return receiver


def _link_device(tracker, user):
    """Link ``user`` to the device's id, unless another user holds it: then
    to a fresh id the device adopts."""
    if held_by_another(tracker.user_id, user):
        tracker.identity.adopt(new_ids(1)[0])
    link(user, tracker.user_id)


def _user_step(step, user, request):
    """The signin/signout event: with the visitor's ids in a tracked
    request; about the user (their linked id) when no browser is there to
    hold ids (``Client.force_login``, a login outside the middleware, a
    native app's API login); nothing from a bot, on an excluded path
    (staff) or without consent."""
    tracker = request_tracker(request)
    fields = {"step": step, **user_fields(user)}
    if tracker is None or tracker.untracked_reason == NOT_BROWSER:
        return record_about("USER_OPERATIONS", user, fields)
    if tracker.active:
        return tracker.track("USER_OPERATIONS", **fields)
    return None


@_guarded
def on_login(sender, request, user, **kwargs):
    tracker = request_tracker(request)
    if tracker is not None and tracker.active:
        linked = linked_user_id(user, create=False)
        if linked:
            tracker.identity.adopt(linked)
        else:
            _link_device(tracker, user)
        tracker.identity.start_session()
        remember_consent(user, True)
    elif tracker is not None and tracker.untracked_reason == NO_CONSENT:
        remember_consent(user, False)
    _user_step("signin", user, request)


@_guarded
def on_logout(sender, request, user, **kwargs):
    if user is None:
        return
    _user_step("signout", user, request)
    tracker = request_tracker(request)
    if tracker is not None and tracker.active:
        tracker.identity.reset()


def _on_signup(user):
    """Link an account created by an anonymous visitor to that visitor."""
    tracker = current_tracker.get()
    if tracker is None or is_request_user(tracker, user):
        return
    if getattr(getattr(tracker.request, "user", None), "is_authenticated", False):
        return  # created by someone logged in (staff): not this device's account
    if tracker.active:
        _link_device(tracker, user)
        remember_consent(user, True)
    elif tracker.untracked_reason == NO_CONSENT:
        remember_consent(user, False)


#: Column values of these types cannot change in place: kept as they are.
IMMUTABLE = (str, bytes, int, float, bool, type(None), datetime.date, datetime.time, Decimal, UUID)


def _columns(instance):
    """The instance's column values, by attribute name (no field deferred);
    a mutable value (a JSONField's dict) is copied, so a change made to it
    in place still shows."""
    return {
        field.attname: _frozen(getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
    }


def _frozen(value):
    if isinstance(value, IMMUTABLE):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # a memoryview, a file: compared as the same object
        return value


def _as_loaded(instance, columns):
    """A stand-in for ``instance`` with the column values it was loaded with
    (its state and cached relations shared), for the default fields."""
    loaded = copy.copy(instance)
    for attname, value in columns.items():
        setattr(loaded, attname, value)
    return loaded


def remember_loaded_fields(sender, instance, **kwargs):
    """Keep what a user was loaded with, to tell a real change at save time.

    ``request.user`` is loaded on every request, so with the default fields
    (read from the user's own columns) only the column values are kept, a
    dict copy; the fields are worked out at save time, and only when a
    column changed. A shop's ``DENGAGE_USER_FIELDS`` callable may read other
    rows (a profile), which a column copy cannot tell changed: it runs here.
    Skipped for new and partially loaded (``only()``/``defer()``) users:
    reading a deferred field here would cost a query per user.
    """
    if instance.pk is None or instance.get_deferred_fields():
        return
    if not (dengage_settings.ENABLED and dengage_settings.USER_EVENTS):
        return
    try:
        if dengage_settings.USER_FIELDS:
            setattr(instance, SNAPSHOT, (FIELDS, user_fields(instance)))
        else:
            setattr(instance, SNAPSHOT, (COLUMNS, _columns(instance)))
    except Exception:  # never break loading a user
        logger.debug("no snapshot of user %s", instance.pk, exc_info=True)


def _loaded_fields(instance, snapshot):
    """The fields as they were at load (or the last save); ``None`` when
    unknown; :data:`UNCHANGED` when no column changed (default fields)."""
    if snapshot is None:
        return None
    kind, values = snapshot
    if kind == FIELDS:  # a snapshot may have been pickled (a cached user)
        return values
    if values == _columns(instance):
        return UNCHANGED
    return user_fields(_as_loaded(instance, values))


@_guarded
def on_user_saved(sender, instance, created, update_fields=None, raw=False, **kwargs):
    if raw:  # loading fixtures
        return
    if not created and update_fields is not None and set(update_fields) <= UNSENT_FIELDS:
        return
    previous = None if created else _loaded_fields(instance, getattr(instance, SNAPSHOT, None))
    if previous is UNCHANGED:
        return
    fields = user_fields(instance)
    setattr(instance, SNAPSHOT, (FIELDS, fields))  # the reference for the next save
    if previous == fields:
        return
    if created:
        _on_signup(instance)
    step = "signup" if created else "update"
    record_about("USER_OPERATIONS", instance, {"step": step, **fields})


def connect():
    """Connect the receivers (called from ``AppConfig.ready``)."""
    user_model = get_user_model()
    user_logged_in.connect(on_login, dispatch_uid="dengage_django.on_login")
    user_logged_out.connect(on_logout, dispatch_uid="dengage_django.on_logout")
    post_init.connect(
        remember_loaded_fields, sender=user_model, dispatch_uid="dengage_django.user_loaded"
    )
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="dengage_django.user_saved")
