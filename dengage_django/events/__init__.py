"""Events as Dengage reads them: pure data, no requests, no database.

* :mod:`.validation`: one schema per event type, validation, normalisation
  and encoding (:func:`build_event`, :func:`encode_event`);
* :mod:`.adapters`: a shop's products and baskets as event fields;
* :mod:`.users`: what is sent about a user.
"""

from .validation import (
    EVENT_NAMES,
    build_event,
    clean_text,
    encode_batch,
    encode_event,
    join_encoded,
    sanitize_for_storage,
    snake_alias,
    visitor_text,
)

__all__ = [
    "EVENT_NAMES",
    "build_event",
    "clean_text",
    "encode_batch",
    "encode_event",
    "join_encoded",
    "sanitize_for_storage",
    "snake_alias",
    "visitor_text",
]
