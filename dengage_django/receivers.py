"""Auth signals and model saves become events, with no code in the shop.

* ``user_logged_in`` -> USER_OPERATIONS ``signin``; ``user_logged_out`` ->
  ``signout``;
* ``post_save`` of the user model: created -> ``signup``; otherwise
  ``update``, only when a field that is sent to Dengage changed since the
  user was loaded (so ``last_login`` and password-only saves send nothing);
* models registered with :func:`dengage_django.register_model`.

Where the ids come from (:func:`record_for_user`): inside a tracked request,
the visitor's; outside any request (admin edits, shell, tasks, data
migrations), the Dengage userId linked to the user at their last login or
sign-up, with a session id of its own. Bots and visitors without consent
get nothing. Who wins on login: when a user already linked to userId A logs
in on a device that carries userId B, the device adopts A (its cookie is
rewritten), so one person keeps one userId across devices; the events of
B before the login stay B's, and every USER_OPERATIONS event carries the
username, so Dengage can join them.

None of this raises into a login or a save outside strict mode.
"""

import copy
import datetime
import logging
from decimal import Decimal
from uuid import UUID

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_init, post_save

from .conf import dengage_settings
from .context import current_tracker
from .identity import link, linked_user_id, new_ids
from .policy import EXCLUDED
from .recording import default_fields, merge_fields, record
from .users import user_fields

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


def _request_tracker(request=None):
    return getattr(request, "dengage", None) or current_tracker.get()


def record_for_user(name, user, fields, *, request=None, staff_ok=True):
    """Record ``name`` for ``user`` with the right ids (see module doc).

    ``staff_ok``: whether a request on an excluded path (the admin) counts
    as "outside a request" (saves: yes; logins: no, those are staff logins).
    """
    tracker = _request_tracker(request)
    if tracker is not None:
        if tracker.active:
            return tracker.track(name, **fields)
        if not (staff_ok and tracker.untracked_reason == EXCLUDED):
            return None
    ids = {"userId": linked_user_id(user) if user is not None else new_ids(1)[0]}
    ids["sessionId"] = new_ids(1)[0]
    return record(name, merge_fields(default_fields(), {**ids, **fields}))


def _session_step(step, request, user):
    """signin/signout: the visitor's own act, so never reported for a staff
    login on an excluded path (the admin)."""
    fields = {"step": step, "username": user.get_username()}
    record_for_user("USER_OPERATIONS", user, fields, request=request, staff_ok=False)


@_guarded
def on_login(sender, request, user, **kwargs):
    tracker = _request_tracker(request)
    if tracker is not None and tracker.active:
        linked = linked_user_id(user, create=False)
        if linked:
            tracker.identity.adopt(linked)
        else:
            link(user, tracker.user_id)
    _session_step("signin", request, user)


@_guarded
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        _session_step("signout", request, user)


#: Column values of these types cannot change in place: kept as they are.
IMMUTABLE = (str, bytes, int, float, bool, type(None), datetime.date, datetime.time, Decimal, UUID)


def _columns(instance):
    """The instance's column values, by attribute name (no field deferred);
    a mutable value (a JSONField's dict) is copied, so a change made to it
    in place still shows."""
    values = instance.__dict__
    return {field.attname: _kept(values[field.attname]) for field in instance._meta.concrete_fields}


def _kept(value):
    if isinstance(value, IMMUTABLE):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # a memoryview, a file: compared as the same object
        return value


def _as_loaded(instance, columns):
    """A stand-in for ``instance`` with the column values it was loaded with
    (its state and cached relations shared), for the default fields."""
    loaded = type(instance).__new__(type(instance))
    loaded.__dict__.update(instance.__dict__)
    loaded.__dict__.update(columns)
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
            instance.__dict__[SNAPSHOT] = (FIELDS, user_fields(instance))
        else:
            instance.__dict__[SNAPSHOT] = (COLUMNS, _columns(instance))
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
    previous = None if created else _loaded_fields(instance, instance.__dict__.get(SNAPSHOT))
    if previous is UNCHANGED:
        return
    fields = user_fields(instance)
    instance.__dict__[SNAPSHOT] = (FIELDS, fields)  # the reference for the next save
    if previous == fields:
        return
    step = "signup" if created else "update"
    tracker = current_tracker.get()
    if created and tracker is not None and tracker.active:
        link(instance, tracker.user_id)
    record_for_user("USER_OPERATIONS", instance, {"step": step, **fields})


def connect():
    """Connect the receivers (called from ``AppConfig.ready``)."""
    user_model = get_user_model()
    user_logged_in.connect(on_login, dispatch_uid="dengage_django.on_login")
    user_logged_out.connect(on_logout, dispatch_uid="dengage_django.on_logout")
    post_init.connect(
        remember_loaded_fields, sender=user_model, dispatch_uid="dengage_django.user_loaded"
    )
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="dengage_django.user_saved")
