"""The API key never leaves: not in a log line, a message or the database.

The key travels in the query string, as the guide prescribes, so every
text this package lets out goes through :func:`redact`, and urllib3's own
debug lines (the request line, query string included) through
:class:`RedactingFilter`, installed once from ``AppConfig.ready()``.
"""

import logging
import re

from ..conf import dengage_settings

_KEY_IN_URL = re.compile(r"(apiKey=)[^&\s'\"]+", re.IGNORECASE)


REDACTED = "[REDACTED]"


def redact(text, secret=None):
    """``text`` with the API key (``secret``, default: the configured one)
    and any ``apiKey=...`` query parameter masked."""
    text = str(text)
    secret = dengage_settings.API_KEY if secret is None else secret
    if secret:
        text = text.replace(secret, REDACTED)
    return _KEY_IN_URL.sub(r"\1" + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Masks the API key in records of loggers we do not own (urllib3 logs
    each request line, query string included, at DEBUG)."""

    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_filter = RedactingFilter()


def install_log_redaction():
    """Attach :class:`RedactingFilter` to the loggers that see request URLs
    (once, from ``AppConfig.ready()``)."""
    for name in ("urllib3.connectionpool", "urllib3", "requests"):
        third_party = logging.getLogger(name)
        if _filter not in third_party.filters:
            third_party.addFilter(_filter)
