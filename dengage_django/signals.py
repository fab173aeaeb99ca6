"""Signals dengage-django sends, so a shop can wire metrics without patching.

Receivers are called with ``send_robust``: an exception in a receiver is
logged on ``dengage_django.signals`` and never breaks a page or the sender.

``event_recorded(sender=OutboxEvent, event)``
    An event was stored in the outbox (``event.status`` is ``pending`` or
    ``invalid``). Sent right after the INSERT, inside the caller's
    transaction if there is one (use ``transaction.on_commit`` in the
    receiver to count only committed events). ``event.pk`` is set, except on
    MySQL for events stored outside a transaction (no ``RETURNING`` there).
``batch_sent(sender=Sender, event_ids, count)``
    Dengage accepted these events.
``event_failed(sender=Sender, event_ids, error, retrying)``
    A request failed for these events; ``retrying`` is ``True`` when they
    will be tried again (they also get ``event_dead`` when not).
``event_dead(sender=Sender, event_ids, reason)``
    These events went ``dead``: rejected by Dengage, or out of attempts.
"""

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

event_recorded = Signal()
batch_sent = Signal()
event_failed = Signal()
event_dead = Signal()


def send(signal, sender, **kwargs):
    """``signal.send_robust``, logging what receivers raised."""
    if not signal.has_listeners(sender):
        return
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "receiver %r of a dengage_django signal raised",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )
