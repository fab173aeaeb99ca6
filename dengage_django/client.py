"""HTTP client for the Dengage event API.

One :class:`requests.Session` per client (connection pooling), connect and
read timeouts from settings, the headers the vendor's own clients send, and
every answer sorted into one of four outcomes (see :class:`Outcome`).

The API key travels in the query string, as the guide prescribes, so it is
scrubbed from everything this module lets out: exception messages, answer
reasons, and urllib3's own debug log lines (see :class:`RedactingFilter`).
"""

import email.utils
import enum
import json
import logging
import re
import time
from dataclasses import dataclass

import requests

from . import __version__
from .conf import dengage_settings
from .exceptions import DengageAPIError, DengageConfigurationError

logger = logging.getLogger(__name__)

EVENTS_PATH = "/add/events/v1.json"
KEYS_PATH = "/get/key"

CONFIGURATION_CODES = frozenset(
    {"NO_API_KEY", "NO_ACCOUNT", "UNVERIFIED_ACCOUNT", "FAILED_ACCOUNT", "NO_DOMAIN_APIKEY_MATCH"}
)
BAD_EVENT_CODES = frozenset({"NO_EVENT", "NO_USERID", "NO_SESSIONID", "BAD_INPUT"})
CONFIGURATION_HTTP = frozenset({401, 403, 404, 405})
BAD_EVENT_HTTP = frozenset({400, 413, 422})
MAX_RETRY_AFTER = 24 * 3600.0

_KEY_IN_URL = re.compile(r"(apiKey=)[^&\s'\"]+", re.IGNORECASE)
REDACTED = "[REDACTED]"
USER_AGENT = f"dengage-django/{__version__} python-requests/{requests.__version__}"


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


class Outcome(enum.Enum):
    SUCCESS = "success"
    #: No event can succeed until an operator acts (key, origin, URL).
    CONFIGURATION = "configuration"
    #: The batch holds an event Dengage will never take.
    BAD_EVENT = "bad_event"
    #: Try again later (timeouts, connection errors, 408/429/5xx).
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    reason: str = ""
    http_status: int | None = None
    status_code: str | None = None
    retry_after: float | None = None

    @property
    def ok(self):
        return self.outcome is Outcome.SUCCESS


def parse_retry_after(value, *, now=None):
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def classify(http_status, body, headers=None):
    """Sort one HTTP answer of the events endpoint into an :class:`Answer`."""
    headers = headers or {}
    if 200 <= http_status < 300:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return Answer(Outcome.TRANSIENT, "unreadable answer (not JSON)", http_status)
        code = data.get("statusCode") if isinstance(data, dict) else None
        if not isinstance(data, dict):
            return Answer(Outcome.TRANSIENT, "unexpected answer (not a JSON object)", http_status)
        if code in (None, "", "SUCCESS"):
            return Answer(Outcome.SUCCESS, "", http_status, code)
        code = str(code)[:64]
        if code in CONFIGURATION_CODES:
            return Answer(Outcome.CONFIGURATION, f"Dengage answered {code}", http_status, code)
        if code in BAD_EVENT_CODES:
            return Answer(Outcome.BAD_EVENT, f"Dengage answered {code}", http_status, code)
        return Answer(Outcome.TRANSIENT, f"Dengage answered unknown {code}", http_status, code)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    reason = f"HTTP {http_status}"
    if http_status in CONFIGURATION_HTTP:
        return Answer(Outcome.CONFIGURATION, reason, http_status)
    if http_status in BAD_EVENT_HTTP:
        return Answer(Outcome.BAD_EVENT, reason, http_status)
    return Answer(Outcome.TRANSIENT, reason, http_status, retry_after=retry_after)


def describe_configuration(answer):
    """An operator's explanation of a configuration answer."""
    hints = {
        "NO_API_KEY": "the request carried no API key: set DENGAGE_API_KEY",
        "NO_ACCOUNT": "DENGAGE_API_KEY belongs to no Dengage account",
        "UNVERIFIED_ACCOUNT": "the Dengage account is not verified yet",
        "FAILED_ACCOUNT": "the Dengage account is not active",
        "NO_DOMAIN_APIKEY_MATCH": (
            "DENGAGE_ORIGIN does not match the domain registered for this API key"
        ),
    }
    if answer.status_code in hints:
        return f"{answer.reason}: {hints[answer.status_code]}"
    if answer.http_status in (404, 405):
        return f"{answer.reason}: check DENGAGE_DATA_CENTER_URL (no event endpoint there)"
    return f"{answer.reason}: Dengage refused the API key or origin"


class DengageClient:
    """Talks to one Dengage data center."""

    def __init__(self, *, api_key, data_center_url, origin, timeout=10.0, connect_timeout=3.05):
        self.api_key = api_key
        self.base_url = data_center_url.rstrip("/")
        self.origin = origin
        self.timeout = (connect_timeout, timeout)
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Origin": origin,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )

    def __repr__(self):
        return f"<DengageClient {self.base_url} origin={self.origin}>"

    @classmethod
    def from_settings(cls):
        """A client for the configured data center.

        Raises :class:`DengageConfigurationError` naming what is missing.
        """
        missing = [
            f"DENGAGE_{name}"
            for name in ("API_KEY", "DATA_CENTER_URL", "ORIGIN")
            if not getattr(dengage_settings, name)
        ]
        if missing:
            raise DengageConfigurationError(
                f"{', '.join(missing)} not set: dengage-django cannot send events"
            )
        return cls(
            api_key=dengage_settings.API_KEY,
            data_center_url=dengage_settings.DATA_CENTER_URL,
            origin=dengage_settings.ORIGIN,
            timeout=dengage_settings.TIMEOUT,
            connect_timeout=dengage_settings.CONNECT_TIMEOUT,
        )

    def close(self):
        self.session.close()

    def _redact(self, text):
        return redact(text, self.api_key)

    def send(self, body):
        """POST one JSON array (bytes) of events; returns an :class:`Answer`.

        Never raises for transport trouble: that is an answer too.
        """
        try:
            response = self.session.post(
                self.base_url + EVENTS_PATH,
                params={"apiKey": self.api_key},
                data=body,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            return Answer(Outcome.TRANSIENT, self._redact(f"timed out: {exc}"))
        except requests.RequestException as exc:
            return Answer(Outcome.TRANSIENT, self._redact(f"{type(exc).__name__}: {exc}"))
        answer = classify(response.status_code, response.content, response.headers)
        logger.debug(
            "POST %s%s (%d bytes) -> %s %s",
            self.base_url,
            EVENTS_PATH,
            len(body),
            answer.http_status,
            answer.outcome.value,
        )
        return answer

    def get_keys(self, count, *, timeout=None):
        """Fetch ``count`` fresh ids from ``/get/key``; raises DengageAPIError."""
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
            raise ValueError(f"count must be an integer from 1 to 1000, got {count!r}")
        try:
            response = self.session.get(
                self.base_url + KEYS_PATH,
                params={"count": count},
                timeout=timeout or self.timeout,
            )
        except requests.RequestException as exc:
            raise DengageAPIError(self._redact(f"/get/key failed: {exc}")) from None
        if response.status_code != 200:
            raise DengageAPIError(
                f"/get/key answered HTTP {response.status_code}", status=response.status_code
            )
        try:
            keys = response.json()
        except ValueError:
            raise DengageAPIError("/get/key answered something that is not JSON") from None
        if (
            not isinstance(keys, list)
            or len(keys) != count
            or not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys)
        ):
            raise DengageAPIError(f"/get/key answered no list of {count} ids")
        return [str(k) for k in keys]
