"""From any caller to an outbox row.

* :mod:`.store`: ``dengage_django.track``, validation, storing
  (:func:`~.store.track`, :func:`~.store.prepare`, :func:`~.store.store`);
* :mod:`.subject`: who an event is about, and so its ids;
* :mod:`.receivers`: auth signals and user saves become USER_OPERATIONS;
* :mod:`.registry`: :func:`~.registry.register_model` for a shop's models.
"""
