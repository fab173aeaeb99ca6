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

``sender`` is the class ``Sender`` (:mod:`dengage_django.delivery.sender`)
for what the sender does, ``OutboxEvent`` otherwise (an operator's
``kill``, a call to :mod:`dengage_django.outbox` without a sender).

For type checkers, each signal's keyword arguments are described by a
``TypedDict`` (:class:`EventRecordedArgs` ...) and a receiver's signature by
a ``Protocol`` (:class:`EventRecordedReceiver` ...); Django adds ``signal``
to the keyword arguments, so receivers take ``**kwargs``::

    from typing import Any

    from dengage_django.models import OutboxEvent
    from dengage_django.signals import event_recorded

    def count_event(sender: type[OutboxEvent], *, event: OutboxEvent, **kwargs: Any) -> None:
        metrics.increment(f"dengage.recorded.{event.status}")

    event_recorded.connect(count_event)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from django.dispatch import Signal

if TYPE_CHECKING:
    from .delivery.sender import Sender
    from .models import OutboxEvent

logger = logging.getLogger(__name__)

event_recorded = Signal()
batch_sent = Signal()
event_failed = Signal()
event_dead = Signal()


# -- what each signal sends (for type checkers; nothing here runs) -----------


class EventRecordedArgs(TypedDict):
    """The keyword arguments of :data:`event_recorded` (sender: ``OutboxEvent``)."""

    event: OutboxEvent


class BatchSentArgs(TypedDict):
    """The keyword arguments of :data:`batch_sent`."""

    event_ids: list[int]
    count: int


class EventFailedArgs(TypedDict):
    """The keyword arguments of :data:`event_failed`."""

    event_ids: list[int]
    error: str
    retrying: bool


class EventDeadArgs(TypedDict):
    """The keyword arguments of :data:`event_dead`."""

    event_ids: list[int]
    reason: str


class EventRecordedReceiver(Protocol):
    """A receiver of :data:`event_recorded`."""

    def __call__(
        self, sender: type[OutboxEvent], *, event: OutboxEvent, **kwargs: Any
    ) -> object: ...


class BatchSentReceiver(Protocol):
    """A receiver of :data:`batch_sent`."""

    def __call__(
        self,
        sender: type[Sender] | type[OutboxEvent],
        *,
        event_ids: list[int],
        count: int,
        **kwargs: Any,
    ) -> object: ...


class EventFailedReceiver(Protocol):
    """A receiver of :data:`event_failed`."""

    def __call__(
        self,
        sender: type[Sender] | type[OutboxEvent],
        *,
        event_ids: list[int],
        error: str,
        retrying: bool,
        **kwargs: Any,
    ) -> object: ...


class EventDeadReceiver(Protocol):
    """A receiver of :data:`event_dead`."""

    def __call__(
        self,
        sender: type[Sender] | type[OutboxEvent],
        *,
        event_ids: list[int],
        reason: str,
        **kwargs: Any,
    ) -> object: ...


def send(signal: Signal, sender: Any, **kwargs: Any) -> None:
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
