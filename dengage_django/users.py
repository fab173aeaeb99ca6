"""What is sent about a user (USER_OPERATIONS fields).

:func:`default_user_fields` reads what a user model offers:

* ``username``: ``get_username()`` (works with a custom ``USERNAME_FIELD``);
* ``fullName``: ``get_full_name()``, when the model has it and it is not blank;
* ``email``: the model's ``EMAIL_FIELD``, when not blank;
* ``phone``: the first of ``phone``, ``phone_number``, ``mobile``;
* ``gender``: ``gender``;
* ``birthDate``: the first date among ``birth_date``, ``date_of_birth``,
  ``birthday``;
* ``memberSince``: the date of ``date_joined`` ("dd.mm.yyyy" on the wire).

``DENGAGE_USER_FIELDS`` names another callable (or its dotted path) taking
the user and returning such a mapping; ``DENGAGE_SEND_CONTACT_DETAILS =
False`` drops ``email`` and ``phone`` whatever the callable returns.
"""

import datetime

from django.utils.module_loading import import_string

from .conf import dengage_settings
from .events import snake_alias

PHONE_ATTRIBUTES = ("phone", "phone_number", "mobile")
BIRTH_DATE_ATTRIBUTES = ("birth_date", "date_of_birth", "birthday")
CONTACT_FIELDS = ("email", "phone")


def _first(user, names):
    for name in names:
        value = getattr(user, name, None)
        if value not in (None, ""):
            return value
    return None


def default_user_fields(user):
    fields = {"username": user.get_username()}
    get_full_name = getattr(user, "get_full_name", None)
    full_name = get_full_name().strip() if callable(get_full_name) else ""
    if full_name:
        fields["fullName"] = full_name
    email_field = user.get_email_field_name() if hasattr(user, "get_email_field_name") else None
    email = getattr(user, email_field, None) if email_field else None
    if email:
        fields["email"] = email
    phone = _first(user, PHONE_ATTRIBUTES)
    if phone is not None:
        fields["phone"] = str(phone)
    gender = getattr(user, "gender", None)
    if gender not in (None, ""):
        fields["gender"] = gender
    birth_date = _first(user, BIRTH_DATE_ATTRIBUTES)
    if isinstance(birth_date, datetime.date):
        fields["birthDate"] = birth_date
    joined = getattr(user, "date_joined", None)
    if isinstance(joined, datetime.datetime):
        fields["memberSince"] = joined.date()
    elif isinstance(joined, datetime.date):
        fields["memberSince"] = joined
    return fields


def user_fields(user):
    """The USER_OPERATIONS fields for ``user`` (see the module docstring)."""
    builder = dengage_settings.USER_FIELDS or default_user_fields
    if isinstance(builder, str):
        builder = import_string(builder)
    fields = dict(builder(user) or {})
    if not dengage_settings.SEND_CONTACT_DETAILS:
        fields = {k: v for k, v in fields.items() if snake_alias(k) not in CONTACT_FIELDS}
    return fields
