"""Feed Dengage (formerly Segmentify) with what a Django shop's visitors do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import TypeVar

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import Model
    from django.http import HttpRequest

    from .models import OutboxEvent

    #: A model class given to :func:`register_model` (returned as is).
    _ModelT = TypeVar("_ModelT", bound="type[Model]")

    #: What a :func:`register_model` builder returns: nothing, one
    #: ``(name, fields)`` pair, or several.
    _BuildResult = tuple[str, Mapping[str, Any]] | Iterable[tuple[str, Mapping[str, Any]]] | None

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "atrack", "register_model", "track", "unregister_model"]


def track(
    name: str,
    *,
    request: HttpRequest | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    **wire_fields: Any,
) -> OutboxEvent | None:
    """Validate an event and record it in the outbox.

    See :func:`dengage_django.recording.store.track`; imported lazily so that
    ``import dengage_django`` works before Django's app registry is ready.
    """
    from .recording.store import track as _track

    return _track(name, request=request, user=user, **wire_fields)


async def atrack(
    name: str,
    *,
    request: HttpRequest | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    **wire_fields: Any,
) -> OutboxEvent | None:
    """:func:`track` for async code (an async webhook view, say): the
    database work runs in a thread, off the event loop."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(track)(name, request=request, user=user, **wire_fields)


def register_model(
    model: _ModelT,
    build: Callable[..., _BuildResult],
    *,
    track_fields: Iterable[str] = (),
) -> _ModelT:
    """Record events for saves of ``model``: see :mod:`dengage_django.recording.registry`."""
    from .recording.registry import register_model as _register

    return _register(model, build, track_fields=track_fields)


def unregister_model(model: type[Model]) -> None:
    """Stop recording events for saves of ``model``."""
    from .recording.registry import unregister_model as _unregister

    return _unregister(model)
