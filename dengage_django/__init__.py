"""Feed Dengage (formerly Segmentify) with what a Django shop's visitors do."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "atrack", "register_model", "track", "unregister_model"]


def track(name, *, request=None, user=None, **wire_fields):
    """Validate an event and record it in the outbox.

    See :func:`dengage_django.recording.store.track`; imported lazily so that
    ``import dengage_django`` works before Django's app registry is ready.
    """
    from .recording.store import track as _track

    return _track(name, request=request, user=user, **wire_fields)


async def atrack(name, *, request=None, user=None, **wire_fields):
    """:func:`track` for async code (an async webhook view, say): the
    database work runs in a thread, off the event loop."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(track)(name, request=request, user=user, **wire_fields)


def register_model(model, build, *, track_fields=()):
    """Record events for saves of ``model``: see :mod:`dengage_django.recording.registry`."""
    from .recording.registry import register_model as _register

    return _register(model, build, track_fields=track_fields)


def unregister_model(model):
    """Stop recording events for saves of ``model``."""
    from .recording.registry import unregister_model as _unregister

    return _unregister(model)
