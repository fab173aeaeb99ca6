"""The current request's tracker, for code that has no request at hand.

The middleware sets :data:`current_tracker` for the duration of a request
(a ``contextvars`` variable: safe under threads and async, and carried into
``sync_to_async`` calls), so signal receivers and model-save hooks can record
with the visitor's ids.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tracker import Tracker

current_tracker: ContextVar[Tracker | None] = ContextVar("dengage_current_tracker", default=None)
