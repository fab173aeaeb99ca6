"""What Dengage's answer to a request means (see ``spec/API-NOTES.md``).

:func:`classify` sorts an HTTP status and body into one of four outcomes
(:class:`Outcome`): success; a configuration error (bad key, origin, URL:
stop and keep the events); a bad event (split the batch to find it); a
transient failure (retry with backoff, honouring ``Retry-After``).

Two answers are configuration errors although no setting may be wrong,
because only an operator can tell what they mean and the events must wait
for one, not burn their attempts:

* a ``statusCode`` Dengage never documented (success is ``statusCode``
  absent, ``null`` or ``"SUCCESS"``, nothing else): the API may have changed;
* a redirect (3xx): the events endpoint never redirects, so the data center
  URL is wrong (redirects are never followed: see :mod:`.client`).

A success whose ``responses``/``campaigns`` lists do not hold one entry per
event sent is still a success; :attr:`Answer.mismatch` says what differs.
"""

import email.utils
import enum
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CONFIGURATION_CODES = frozenset(
    {"NO_API_KEY", "NO_ACCOUNT", "UNVERIFIED_ACCOUNT", "FAILED_ACCOUNT", "NO_DOMAIN_APIKEY_MATCH"}
)


BAD_EVENT_CODES = frozenset({"NO_EVENT", "NO_USERID", "NO_SESSIONID", "BAD_INPUT"})


#: The id a bad-event code says is missing (named in the dead event's reason).
MISSING_ID = {"NO_USERID": "userId", "NO_SESSIONID": "sessionId"}


#: The lists a success answer holds, one entry per event sent.
PER_EVENT_LISTS = ("responses", "campaigns")


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


#: Characters of a statusCode or a Location kept in a reason; others become "?".
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/%@+~\[\]-]")


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    reason: str = ""
    http_status: int | None = None
    status_code: str | None = None
    retry_after: float | None = None
    #: On a success whose ``responses``/``campaigns`` do not hold one entry
    #: per event sent: what differs, with the counts (else ``None``).
    mismatch: str | None = None
    #: A success's decoded body (Dengage's decisions, :mod:`..decisions`).
    data: Any = field(default=None, compare=False, repr=False)

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


def _safe(text, limit=64):
    """``text`` cut to ``limit`` characters, anything unusual as ``?``."""
    return _UNSAFE.sub("?", str(text)[:limit])


def _events(count):
    return f"{count} event{'' if count == 1 else 's'}"


def _mismatch(data, count):
    """What in a success body ``data`` does not match ``count`` events, or ``None``.

    A list Dengage left out is not compared (nothing to mismatch).
    """
    if count is None:
        return None
    problems = []
    for name in PER_EVENT_LISTS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            return f"{_events(count)} sent, but {name} is not a list"
        if len(value) != count:
            problems.append(f"{len(value)} {name}")
    if not problems:
        return None
    return f"{_events(count)} sent, but {' and '.join(problems)} answered"


def _status_code_answer(http_status, code, data, count):
    """An answer carrying a ``statusCode`` (or none) in a 2xx body ``data``."""
    if code is None or code == "SUCCESS":
        return Answer(
            Outcome.SUCCESS, "", http_status, code, mismatch=_mismatch(data, count), data=data
        )
    code = _safe(code if isinstance(code, str) else json.dumps(code))
    if code in CONFIGURATION_CODES:
        return Answer(Outcome.CONFIGURATION, f"Dengage answered {code}", http_status, code)
    if code in BAD_EVENT_CODES:
        reason = f"Dengage answered {code}"
        if code in MISSING_ID:
            which = "the event" if count == 1 else "an event of the request"
            reason += f": {which} has no {MISSING_ID[code]}"
        return Answer(Outcome.BAD_EVENT, reason, http_status, code)
    reason = f"unknown statusCode {code!r}: Dengage's API may have changed; events kept"
    return Answer(Outcome.CONFIGURATION, reason, http_status, code)


def _redirect_answer(http_status, location):
    """A 3xx: the data center URL is wrong. Names where it points, never the
    Location's credentials, query string or fragment (they may echo the key)."""
    target = ""
    if location:
        try:
            parts = urlsplit(location.strip())
            host = parts.hostname or ""
            if parts.port is not None:
                host += f":{parts.port}"
        except ValueError:
            parts, host = None, ""
        if parts is not None:
            prefix = f"{parts.scheme}://{host}" if parts.scheme and host else ""
            target = _safe(prefix + parts.path, 200)
    where = f" redirect to {target}" if target else " redirect"
    reason = f"HTTP {http_status}{where}: check DENGAGE_DATA_CENTER_URL"
    return Answer(Outcome.CONFIGURATION, reason, http_status)


def classify(http_status, body, headers=None, *, count=None):
    """Sort one HTTP answer of the events endpoint into an :class:`Answer`.

    ``count`` is the number of events sent, if known: a success whose
    ``responses``/``campaigns`` lists hold another number of entries gets an
    :attr:`Answer.mismatch`, and a ``NO_USERID``/``NO_SESSIONID`` reason
    says "the event" when it was alone.
    """
    headers = headers or {}
    if 200 <= http_status < 300:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return Answer(Outcome.TRANSIENT, "unreadable answer (not JSON)", http_status)
        if not isinstance(data, dict):
            return Answer(Outcome.TRANSIENT, "unexpected answer (not a JSON object)", http_status)
        return _status_code_answer(http_status, data.get("statusCode"), data, count)
    if 300 <= http_status < 400:
        return _redirect_answer(http_status, headers.get("Location"))
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
    if answer.http_status in (401, 403):
        return f"{answer.reason}: Dengage refused the API key or origin"
    # Unknown statusCodes, redirects, settings that cannot travel: the
    # reason says it all.
    return answer.reason
