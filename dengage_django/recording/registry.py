"""Saves of a shop's own models become events: :func:`register_model`.

.. code-block:: python

    import dengage_django

    def order_events(order, created, changes):
        if changes.get("status", (None, None))[1] == "paid":
            return "CHECKOUT", {
                "step": "purchase",
                "total_price": order.total,
                "product_list": [line.to_dengage() for line in order.lines.all()],
                "order_no": order.pk,
                "user": order.customer,  # whose ids, when saved outside a request
            }

    dengage_django.register_model(Order, order_events, track_fields=["status"])

``build(instance, created, changes)`` returns ``None``, one ``(name, fields)``
pair, or a list of them. ``changes`` maps each of ``track_fields`` whose value
changed since the instance was loaded to ``(old, new)`` (for a new instance,
``old`` is ``None``). The events are recorded in ``post_save``, so inside the
save's transaction: if it rolls back, they are gone too. An event whose
fields hold ``"user"`` (an auth user, popped from the fields) is about that
user, as with ``dengage_django.track(..., user=...)`` (see
:mod:`.subject`): the visitor's ids only when that user is the request's
visitor, else the user's linked id and own session, in or out of a
request. Without ``"user"`` it is the tracked request's visitor's event
(nothing in an untracked request, such as the admin).
"""

import logging

from django.db.models.signals import post_init, post_save

from ..conf import dengage_settings

logger = logging.getLogger(__name__)


def _uid(model, what):
    return f"dengage_django.recording.registry.{what}.{model._meta.label_lower}"


def register_model(model, build, *, track_fields=()):
    """Record the events ``build`` returns whenever ``model`` is saved."""
    track_fields = tuple(track_fields)
    attname = "_dengage_tracked_values"

    def loaded(sender, instance, **kwargs):
        deferred = instance.get_deferred_fields()
        setattr(
            instance,
            attname,
            {name: getattr(instance, name) for name in track_fields if name not in deferred},
        )

    def saved(sender, instance, created, raw=False, **kwargs):
        if raw or not dengage_settings.ENABLED:
            return
        before = getattr(instance, attname, {})
        now = {name: getattr(instance, name) for name in track_fields}
        changes = {
            name: (None if created else before.get(name), value)
            for name, value in now.items()
            if created or name not in before or before[name] != value
        }
        setattr(instance, attname, now)
        try:
            _record_all(build(instance, created=created, changes=changes))
        except Exception:
            if dengage_settings.STRICT:
                raise
            logger.exception("dengage_django: events for %s failed", model._meta.label)

    unregister_model(model)
    post_init.connect(loaded, sender=model, dispatch_uid=_uid(model, "init"), weak=False)
    post_save.connect(saved, sender=model, dispatch_uid=_uid(model, "save"), weak=False)
    return model


def unregister_model(model):
    post_init.disconnect(sender=model, dispatch_uid=_uid(model, "init"))
    post_save.disconnect(sender=model, dispatch_uid=_uid(model, "save"))


def _record_all(result):
    from .subject import record_about

    if result is None:
        return
    pairs = [result] if isinstance(result, tuple) else list(result)
    for name, fields in pairs:
        fields = dict(fields)
        user = fields.pop("user", None)
        record_about(name, user, fields)
