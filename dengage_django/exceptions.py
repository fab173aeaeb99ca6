"""Exceptions raised by dengage-django.

Every exception derives from :class:`DengageError`, so a shop can catch
everything this app raises with one ``except`` clause. Each also derives from
the standard exception it refines, so code that already catches
``ValueError`` or ``ImproperlyConfigured`` keeps working.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class DengageError(Exception):
    """Root of every exception raised by dengage-django."""


class DengageValidationError(DengageError, ValueError):
    """An event failed validation.

    ``event`` is the event name (``"BASKET_OPERATIONS"``), ``field`` the wire
    name of the offending field (``"quantity"``, ``"productList[2].price"``)
    or ``None`` when the event as a whole is at fault.
    """

    event: str
    field: str | None
    message: str

    def __init__(self, event: str, field: str | None, message: str) -> None:
        self.event = event
        self.field = field
        self.message = message
        where = f"{event}.{field}" if field else str(event)
        super().__init__(f"{where}: {message}")


class DengageConfigurationError(DengageError, ImproperlyConfigured):
    """Dengage cannot accept any event until an operator fixes the setup.

    Raised for a missing setting, or when Dengage answers with a
    configuration ``statusCode`` (``NO_ACCOUNT``, ``NO_DOMAIN_APIKEY_MATCH``
    ...) or HTTP 401/403.
    """


class DengageAPIError(DengageError):
    """Dengage answered in a way the client could not use.

    ``status`` is the HTTP status (``None`` for a transport failure) and
    ``status_code`` the Dengage ``statusCode`` value, if any. The message
    never contains the API key.
    """

    status: int | None
    status_code: str | None

    def __init__(
        self, message: str, *, status: int | None = None, status_code: str | None = None
    ) -> None:
        self.status = status
        self.status_code = status_code
        super().__init__(message)
