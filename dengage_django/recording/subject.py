"""Who an event is about, and so which ids it carries.

The rules (``docs/identity.rst`` states them for users):

* An event recorded with an explicit ``user`` (``dengage_django.track(...,
  user=...)``, a saved user row, a ``register_model`` builder's ``"user"``)
  is about that user. It carries the request's visitor ids only when that
  user *is* the request's visitor: its authenticated user, or the account
  linked to the visitor's id (an anonymous visitor who just signed up).
  Otherwise (a staff edit, a payment webhook, a task) it carries the user's
  linked userId (linked now to a fresh id when there is none) and a session
  id of the user's own, kept while events keep coming
  (``DENGAGE_SESSION_TIMEOUT``), never the request visitor's ids.
* Explicit events are recorded whatever the request looks like (a bot-like
  webhook, an excluded path, no request at all); only the user's consent
  (:func:`user_consents`) can stop them.
* No ``user``: the request's visitor, when the request is tracked; nothing
  when it is not (a bot's, a webhook's own events). Outside a request, the
  caller must pass ``userId`` and ``sessionId``, else the event is invalid
  and says so.
"""

import datetime
import logging

from django.utils import timezone

from ..conf import dengage_settings
from ..tracking.context import current_tracker
from ..tracking.identity import SEEN_GRANULARITY, is_valid_id, link, linked_user_id, new_ids
from ..tracking.policy import NO_CONSENT
from .store import default_fields, merge_fields, record

logger = logging.getLogger(__name__)

#: Where a request's session remembers the consent last stored for its user.
CONSENT_SESSION_KEY = "_dengage_consent"


def request_tracker(request=None):
    """The tracker of ``request`` (or of the current request)."""
    if request is not None:
        return getattr(request, "dengage", None)
    return current_tracker.get()


def visitor_tracker(request=None):
    """The tracker of ``request`` (or of the current request) when it tracks
    a visitor; ``None`` otherwise (no request, a bot, a webhook, an excluded
    path, no consent)."""
    tracker = request_tracker(request)
    return tracker if tracker is not None and tracker.active else None


def real_user(user):
    """``user``, or ``None`` for no user or an anonymous one."""
    if user is None or not getattr(user, "is_authenticated", True):
        return None
    return user


def _same_user(one, other):
    return (
        one is not None
        and getattr(one, "is_authenticated", False)
        and one._meta.concrete_model is other._meta.concrete_model
        and one.pk is not None
        and one.pk == other.pk
    )


def is_request_user(tracker, user):
    """Whether ``user`` is the authenticated user of ``tracker``'s request."""
    return _same_user(getattr(tracker.request, "user", None), user)


def is_visitor(tracker, user):
    """Whether events about ``user`` belong to ``tracker``'s visitor."""
    if is_request_user(tracker, user):
        return True
    if not tracker.active or user.pk is None:
        return False
    return linked_user_id(user, create=False) == tracker.user_id


def _identity(user):
    from ..models import DengageIdentity

    return DengageIdentity.objects.filter(user=user)


def _linkable(user):
    from django.contrib.auth import get_user_model

    return isinstance(user, get_user_model()) and user.pk is not None


#: The columns of a user's identity row that events about them read: one
#: SELECT serves both the consent and the ids.
ROW = ("consent", "dengage_user_id", "session_id", "session_seen_at")


def identity_row(user):
    """``user``'s identity row, :data:`ROW`'s columns (``{}``: none yet, or
    a user that cannot be linked)."""
    if not _linkable(user):
        return {}
    return _identity(user).values(*ROW).first() or {}


def user_consents(user, row=None):
    """Whether events about ``user`` may be recorded away from their browser.

    ``DENGAGE_USER_CONSENT`` (a callable taking the user, or its dotted
    path) decides; by default what the user's last tracked request decided,
    and for a user never seen in one: yes, unless the project asks visitors
    for consent (``DENGAGE_CONSENT`` is set). ``row``: the user's
    :func:`identity_row`, when already read.
    """
    decide = dengage_settings.callable("USER_CONSENT")
    if decide is not None:
        return bool(decide(user))
    remembered = (identity_row(user) if row is None else row).get("consent")
    if remembered is None:
        return dengage_settings.CONSENT is None
    return remembered


def remember_consent(user, consent):
    """Store what a request of ``user`` decided about consent."""
    if not _linkable(user):
        return
    from ..models import DengageIdentity

    DengageIdentity.objects.update_or_create(user=user, defaults={"consent": consent})


def remember_request_consent(tracker):
    """After a request of a logged-in user: store its consent decision when
    it differs from what this session stored last (a write per change, not
    per request)."""
    reason = tracker.untracked_reason
    if reason not in (None, NO_CONSENT):
        return  # a bot, an excluded path, a webhook: no decision about the user
    if reason is None and not tracker.identity.resolved:
        return  # ids unused: the session may not even be loaded
    session = tracker.identity.django_session()
    if session is None:
        return
    from django.contrib.auth import SESSION_KEY as AUTH_USER_KEY

    user_pk = session.get(AUTH_USER_KEY)
    if user_pk is None:
        return
    consent = reason is None
    if session.get(CONSENT_SESSION_KEY) == [user_pk, consent]:
        return
    user = real_user(getattr(tracker.request, "user", None))
    if user is not None:
        remember_consent(user, consent)
        session[CONSENT_SESSION_KEY] = [user_pk, consent]


def _first_identity(user):
    """Link ``user`` (who has no identity row) to a fresh userId with a
    session of their own, in one INSERT (a user just created, often);
    ``None`` when a row appeared meanwhile."""
    from django.db import IntegrityError, router, transaction

    from ..models import DengageIdentity

    user_id, session_id = new_ids(2)
    try:
        with transaction.atomic(using=router.db_for_write(DengageIdentity)):
            DengageIdentity.objects.create(
                user=user,
                dengage_user_id=user_id,
                session_id=session_id,
                session_seen_at=timezone.now(),
            )
    except IntegrityError:  # linked by another request or thread meanwhile
        return None
    return {"userId": user_id, "sessionId": session_id}


def subject_ids(user, row=None):
    """``userId`` and ``sessionId`` for an event about ``user`` recorded away
    from their browser: the linked userId and the user's own session
    (``row``: the user's :func:`identity_row`, when already read)."""
    if not _linkable(user):
        return {"userId": new_ids(1)[0], "sessionId": new_ids(1)[0]}
    if row is None:
        row = identity_row(user)
    if not row:
        first = _first_identity(user)
        if first is not None:
            return first
        row = identity_row(user)
    user_id = row.get("dengage_user_id")
    if not is_valid_id(user_id):
        user_id = link(user, new_ids(1)[0])
    now = timezone.now()
    seen = row.get("session_seen_at")
    session_id = row.get("session_id")
    if is_valid_id(session_id) and seen is not None and now - seen <= _timeout():
        if now - seen >= datetime.timedelta(seconds=SEEN_GRANULARITY):
            _identity(user).update(session_seen_at=now)
    else:
        session_id = new_ids(1)[0]
        _identity(user).update(session_id=session_id, session_seen_at=now)
    return {"userId": user_id, "sessionId": session_id}


def _timeout():
    return datetime.timedelta(seconds=dengage_settings.SESSION_TIMEOUT)


def record_about(name, user, fields, *, request=None):
    """Record event ``name`` with ``fields`` about ``user`` (``None``: the
    request's visitor) with the ids the module docstring describes."""
    tracker = request_tracker(request)
    user = real_user(user)
    if user is None:
        if tracker is not None:
            return tracker.track(name, **fields)  # nothing when untracked
        return record(name, merge_fields(default_fields(), fields))
    if tracker is not None and is_visitor(tracker, user):
        if tracker.active:
            return tracker.track(name, **fields)
        if tracker.untracked_reason == NO_CONSENT:
            return None
    # One read of the user's row for both questions (none when a callable
    # decides consent).
    row = identity_row(user) if dengage_settings.USER_CONSENT is None else None
    if not user_consents(user, row):
        logger.debug("no consent for events about user %s: %s not recorded", user.pk, name)
        return None
    ids = subject_ids(user, row)
    return record(name, merge_fields(default_fields(), {**ids, **fields}))
