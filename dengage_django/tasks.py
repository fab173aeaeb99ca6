"""An optional task that sends the outbox, for Django's task framework.

Needs ``django.tasks`` (Django 6.0+) or, on Django 5.2, the ``django-tasks``
backport (import name ``django_tasks``); the built-in framework is used when
both are importable. Without either, importing this module raises
:class:`ImportError`: nothing else in dengage-django imports it unless
``DENGAGE_TASK_ON_RECORD`` is true, so the rest of the app keeps working.

* :data:`send_outbox` drains the outbox once (``Sender().drain(limit)``) and
  returns ``{"sent", "retrying", "dead", "configuration_error"}``.
* :func:`connect` wires :func:`enqueue_send_on_commit` to the
  ``event_recorded`` signal: once the transaction that recorded events
  commits, :data:`send_outbox` is enqueued, at most once per
  ``DENGAGE_TASK_THROTTLE`` seconds per process. Events recorded while the
  throttle holds wait for the next enqueue or for the periodic
  ``send_dengage_outbox`` run that should stay in place as a safety net.
"""

import logging
import threading
import time

from django.db import transaction

from . import outbox, signals
from .conf import dengage_settings
from .delivery.sender import Sender
from .exceptions import DengageConfigurationError
from .models import OutboxEvent

try:
    from django.tasks import task

    FRAMEWORK = "django.tasks"
except ImportError:
    try:
        from django_tasks import task
    except ImportError as exc:
        raise ImportError(
            "dengage_django.tasks needs Django's task framework: Django 6.0+, "
            "or the django-tasks backport on Django 5.2 (pip install django-tasks). "
            "Leave DENGAGE_TASK_ON_RECORD off without it."
        ) from exc
    FRAMEWORK = "django_tasks"

logger = logging.getLogger(__name__)

DISPATCH_UID = "dengage_django.tasks.enqueue_send_on_commit"


@task
def send_outbox(limit=None):
    """Send due events (at most ``limit``); returns what the run did."""
    try:
        sender = Sender()
    except DengageConfigurationError as exc:
        logger.error("Dengage is not configured, nothing sent: %s", exc)
        return {"sent": 0, "retrying": 0, "dead": 0, "configuration_error": str(exc)}
    try:
        report = sender.drain(limit)
    finally:
        sender.client.close()
    return {
        "sent": report.sent,
        "retrying": report.retrying,
        "dead": report.dead,
        "configuration_error": report.configuration_error,
    }


class Throttle:
    """At most one go per ``seconds``, across the threads of one process,
    measured on a monotonic clock (wall-clock jumps do not matter)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._last = None

    def _open(self, seconds, now):
        return self._last is None or not seconds or now - self._last >= seconds

    def is_open(self, seconds):
        """Whether a go would be allowed now (takes nothing)."""
        with self._lock:
            return self._open(seconds, self.clock())

    def take(self, seconds):
        """Take the go if allowed; ``True`` when taken."""
        with self._lock:
            now = self.clock()
            if not self._open(seconds, now):
                return False
            self._last = now
            return True

    def reset(self):
        with self._lock:
            self._last = None


throttle = Throttle()


def enqueue_send_on_commit(sender=None, event=None, **kwargs):
    """``event_recorded`` receiver: enqueue :data:`send_outbox` once the
    recording transaction commits (right away outside a transaction).

    Invalid events never reach Dengage, so they enqueue nothing. The throttle
    is taken at commit time, so a rolled-back transaction uses none of it.
    """
    if not dengage_settings.TASK_ON_RECORD:
        return
    if event is not None and event.status == OutboxEvent.Status.INVALID:
        return
    if not throttle.is_open(dengage_settings.TASK_THROTTLE):
        return  # cheap early exit: no callback per event while throttled
    transaction.on_commit(_enqueue, using=outbox.db_alias())


def _enqueue():
    # A transaction recording many events registers several callbacks: the
    # first takes the throttle, the others find it closed.
    if not throttle.take(dengage_settings.TASK_THROTTLE):
        return
    try:
        send_outbox.enqueue()
    except Exception:
        # A queue that is down must not break the request that recorded the
        # events; they stay in the outbox, and the next try may succeed.
        throttle.reset()
        logger.exception("could not enqueue the Dengage send task")


def connect():
    """Enqueue :data:`send_outbox` when events are recorded (idempotent)."""
    signals.event_recorded.connect(
        enqueue_send_on_commit, sender=OutboxEvent, dispatch_uid=DISPATCH_UID
    )


def disconnect():
    """Undo :func:`connect`."""
    signals.event_recorded.disconnect(sender=OutboxEvent, dispatch_uid=DISPATCH_UID)
