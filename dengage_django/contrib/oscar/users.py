"""Oscar's customers log in by e-mail: the accounts its registration
creates in Django's default user model have random usernames (Oscar fills
the required field). :func:`user_fields` names such users by their e-mail
address, as they know themselves; a replaced user model keeps its
``USERNAME_FIELD`` (Oscar's own abstract user's is the e-mail)."""

from __future__ import annotations

from typing import Any

from ...events.users import default_user_fields


def user_fields(user: Any) -> dict[str, Any]:
    """:func:`~dengage_django.events.users.default_user_fields`, with the
    e-mail as ``username`` for Django's own ``auth.User``."""
    fields = default_user_fields(user)
    if user._meta.label == "auth.User" and fields.get("email"):
        fields["username"] = fields["email"]
    return fields
