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
the user and returning such a mapping. Every USER_OPERATIONS step (signup,
signin, signout, update) carries the same fields.

``DENGAGE_SEND_CONTACT_DETAILS = False``: no e-mail address or phone number
leaves, under any field name (:func:`withhold_contact`): e-mail, phone and
mobile fields are dropped; e-mail addresses inside any text, list or URL
(percent-encoded ``%40`` included) are cut out; a ``username`` shaped like
an e-mail address or a phone number becomes the user's primary key (a shop
that logs in by e-mail keeps one name per profile). Phone numbers written
inside free text are not recognised: keep them out of event fields.
"""

import datetime
import re
from collections.abc import Mapping

from ..conf import dengage_settings
from .validation import snake_alias

PHONE_ATTRIBUTES = ("phone", "phone_number", "mobile")
BIRTH_DATE_ATTRIBUTES = ("birth_date", "date_of_birth", "birthday")
#: Words in a (snake_case) field name that mark a contact detail.
CONTACT_WORDS = ("email", "e_mail", "phone", "mobile")
EMAIL_SHAPED = re.compile(r"\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*")
PHONE_SHAPED = re.compile(r"\s*\+?[\d\s().\-]{7,24}\s*")
#: An e-mail address inside text or a URL ("%40" is an encoded "@").
EMAIL_IN_TEXT = re.compile(
    r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    re.IGNORECASE,
)
WITHHELD = "[withheld]"


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


#: The builder used when ``DENGAGE_USER_FIELDS`` is not set: an
#: integration's (:func:`register_default_builder`); ``None``:
#: :func:`default_user_fields`.
_default_builder = [None]


def register_default_builder(builder):
    """Use ``builder(user) -> mapping`` instead of :func:`default_user_fields`
    when ``DENGAGE_USER_FIELDS`` is not set (an integration's app calls this
    in ``ready()``; the Oscar integration's names users by their e-mail)."""
    _default_builder[0] = builder


def user_fields(user):
    """The USER_OPERATIONS fields for ``user`` (see the module docstring)."""
    builder = dengage_settings.callable("USER_FIELDS") or _default_builder[0] or default_user_fields
    fields = dict(builder(user) or {})
    if not dengage_settings.SEND_CONTACT_DETAILS:
        username = fields.get("username")
        if isinstance(username, str) and _is_contact_value(username):
            fields["username"] = str(user.pk) if user.pk is not None else None
        fields = withhold_contact(fields)
    return fields


def _is_contact_value(text):
    if EMAIL_SHAPED.fullmatch(text):
        return True
    return PHONE_SHAPED.fullmatch(text) is not None and sum(c.isdigit() for c in text) >= 7


def _is_contact_key(key):
    return isinstance(key, str) and any(word in snake_alias(key) for word in CONTACT_WORDS)


def _withheld(value):
    if isinstance(value, str):
        return EMAIL_IN_TEXT.sub(WITHHELD, value) if ("@" in value or "%40" in value) else value
    if isinstance(value, Mapping):
        return withhold_contact(value)
    if isinstance(value, (list, tuple)):
        return [_withheld(item) for item in value]
    return value


def withhold_contact(fields):
    """``fields`` without e-mail addresses and phone numbers: contact fields
    (by name) dropped, e-mail addresses cut out of every text, list and
    nested mapping (``params``)."""
    return {key: _withheld(value) for key, value in fields.items() if not _is_contact_key(key)}
