"""What Dengage's answer to a request means (see ``spec/API-NOTES.md``).

:func:`classify` sorts an HTTP status and body into one of four outcomes
(:class:`Outcome`): success; a configuration error (bad key, origin, URL:
stop and keep the events); a bad event (split the batch to find it); a
transient failure (retry with backoff, honouring ``Retry-After``).
"""

import email.utils
import enum
import json
import time
from dataclasses import dataclass

CONFIGURATION_CODES = frozenset(
    {"NO_API_KEY", "NO_ACCOUNT", "UNVERIFIED_ACCOUNT", "FAILED_ACCOUNT", "NO_DOMAIN_APIKEY_MATCH"}
)


BAD_EVENT_CODES = frozenset({"NO_EVENT", "NO_USERID", "NO_SESSIONID", "BAD_INPUT"})


CONFIGURATION_HTTP = frozenset({401, 403, 404, 405})


BAD_EVENT_HTTP = frozenset({400, 413, 422})


MAX_RETRY_AFTER = 24 * 3600.0


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
