"""HTTP client for the Dengage event API.

One :class:`requests.Session` per client (connection pooling), connect and
read timeouts from settings, the headers the vendor's own clients send.
HTTP only: what an answer means is :mod:`.answers`' business, keeping the
API key out of what this module lets out (exception messages, answer
reasons, log lines) :mod:`.redaction`'s.

On the wire:

* the key travels twice on the events endpoint, as the guide's ``apiKey``
  query parameter and as the ``X-Sfy-Api-Key`` header the vendor's clients
  send; ``/get/key`` needs no key and gets none (the session holds none);
* redirects are never followed (a 3xx is a wrong data center URL, and a
  followed redirect would carry the key's header to wherever it points);
* an origin with an internationalised host (``https://mağaza.example.com.tr``)
  goes out in its punycode (IDNA) form, as browsers send it;
* :meth:`DengageClient.send` never raises: a setting that cannot travel is a
  configuration answer, anything unexpected a transient one, logged with
  its traceback (redacted).

Neither requests nor urllib3 logs request headers (urllib3 logs the request
line, which :class:`.redaction.RedactingFilter` cleans); only
``http.client.HTTPConnection.debuglevel`` prints them, to stdout, and it is
off unless a developer turns it on.
"""

import dataclasses
import json
import logging
import re
import traceback
from urllib.parse import urlsplit

import idna
import requests

from .. import __version__
from ..conf import dengage_settings
from ..exceptions import DengageAPIError, DengageConfigurationError
from .answers import Answer, Outcome, classify
from .redaction import redact

logger = logging.getLogger(__name__)

EVENTS_PATH = "/add/events/v1.json"
KEYS_PATH = "/get/key"


USER_AGENT = f"dengage-django/{__version__} python-requests/{requests.__version__}"

#: The header the vendor's clients carry the API key in (besides ``?apiKey=``).
API_KEY_HEADER = "X-Sfy-Api-Key"

#: The longest reason kept for an unexpected error.
MAX_REASON_LENGTH = 500

_HEADER_VALUE = re.compile(r"[\x21-\x7e]+")


def idna_host(host):
    """``host`` in its ASCII (punycode) form, as browsers put it in ``Origin``.

    UTS #46 processing as browsers and requests do it (``idna`` package), then
    Python's IDNA 2003 codec for what that refuses (symbols some registries
    allow). Raises :class:`ValueError` if neither can encode it.
    """
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError:  # idna.IDNAError is one
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("its host is not a valid internationalised domain name") from None


def ascii_origin(origin):
    """``origin`` as it can travel in an ``Origin`` header.

    An ASCII origin is returned unchanged; a non-ASCII host is converted to
    punycode (scheme and host lower-cased, port kept). Raises
    :class:`ValueError` (whose message never quotes the value) if the origin
    cannot be sent.
    """
    if origin.isascii():
        return origin
    parts = urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError:
        raise ValueError("its port is not a number") from None
    if not parts.scheme or not parts.hostname:
        raise ValueError("it is not scheme://host[:port]")
    if parts.username is not None or parts.password is not None:
        raise ValueError("it contains credentials")
    rest = parts._replace(scheme="", netloc="").geturl()
    if not rest.isascii():
        raise ValueError("only its host may hold non-ASCII characters")
    netloc = idna_host(parts.hostname) + ("" if port is None else f":{port}")
    return f"{parts.scheme.lower()}://{netloc}{rest}"


def count_events(body):
    """How many events a request body (a JSON array) holds, or ``None``."""
    try:
        events = json.loads(body)
    except (TypeError, ValueError):
        return None
    return len(events) if isinstance(events, list) else None


class DengageClient:
    """Talks to one Dengage data center."""

    def __init__(self, *, api_key, data_center_url, origin, timeout=10.0, connect_timeout=3.05):
        self.api_key = api_key
        self.base_url = data_center_url.rstrip("/")
        self.origin = origin
        self.timeout = (connect_timeout, timeout)
        self.session = requests.Session()
        # requests reads the environment (proxies, NO_PROXY, a CA bundle,
        # ~/.netrc) again for every request, about a millisecond of a live
        # call's deadline: it is read once, for this data center, here.
        #: Why no request can be sent (a setting that cannot travel), or "".
        self.problem = ""
        try:
            environment = self.session.merge_environment_settings(
                self.base_url, {}, None, None, None
            )
        except ValueError as exc:  # a URL that cannot be parsed ("https://[bad")
            self.problem = redact(f"DENGAGE_DATA_CENTER_URL cannot be parsed: {exc}", api_key)
        else:
            self.session.proxies.update(environment["proxies"])
            self.session.verify = environment["verify"]
        self.session.trust_env = False
        self.session.headers.update(
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )
        try:
            origin_header = ascii_origin(origin)
            if not _HEADER_VALUE.fullmatch(origin_header):
                raise ValueError("it holds spaces or control characters")
        except ValueError as exc:
            self.problem = f"DENGAGE_ORIGIN cannot be sent as an Origin header: {exc}"
        else:
            self.session.headers["Origin"] = origin_header
        if not _HEADER_VALUE.fullmatch(api_key or ""):
            self.problem = (
                "DENGAGE_API_KEY holds characters that cannot travel in an HTTP header "
                f"({API_KEY_HEADER}): copy it again from Dengage's Integrations page"
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

    def send(self, body, count=None):
        """POST one JSON array (bytes) of events; returns an :class:`Answer`.

        ``count`` is the number of events in ``body`` (counted from it when
        not given, on a 2xx answer only): a success whose
        ``responses``/``campaigns`` do not match it is logged as a warning
        and carries :attr:`Answer.mismatch`.

        Never raises: transport trouble is an answer, a setting that cannot
        be sent a configuration answer, anything unexpected a transient one.
        """
        if self.problem:
            return Answer(Outcome.CONFIGURATION, self.problem)
        try:
            answer = self._send(body, count)
        except Exception as exc:
            logger.error(
                "unexpected error sending events to Dengage (kept, will retry):\n%s",
                self._redact("".join(traceback.format_exception(exc))).rstrip(),
            )
            reason = self._redact(f"unexpected error: {type(exc).__name__}: {exc}")
            return Answer(Outcome.TRANSIENT, reason[:MAX_REASON_LENGTH])
        if answer.reason:
            answer = dataclasses.replace(answer, reason=self._redact(answer.reason))
        if answer.mismatch:
            logger.warning(
                "Dengage's answer does not have one entry per event: %s "
                "(the events were taken; the vendor's web library drops such answers)",
                answer.mismatch,
            )
        return answer

    def _send(self, body, count):
        try:
            response = self.session.post(
                self.base_url + EVENTS_PATH,
                params={"apiKey": self.api_key},
                data=body,
                headers={API_KEY_HEADER: self.api_key},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            return Answer(Outcome.TRANSIENT, self._redact(f"timed out: {exc}"))
        except requests.exceptions.InvalidProxyURL as exc:
            reason = f"{type(exc).__name__}: {exc}: check the proxy settings (HTTPS_PROXY)"
            return Answer(Outcome.CONFIGURATION, self._redact(reason))
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            reason = f"{type(exc).__name__}: {exc}: check DENGAGE_DATA_CENTER_URL"
            return Answer(Outcome.CONFIGURATION, self._redact(reason))
        except requests.exceptions.InvalidHeader as exc:
            reason = f"InvalidHeader: a header cannot be sent: {exc}"
            return Answer(Outcome.CONFIGURATION, self._redact(reason))
        except requests.RequestException as exc:
            return Answer(Outcome.TRANSIENT, self._redact(f"{type(exc).__name__}: {exc}"))
        if count is None and 200 <= response.status_code < 300:
            count = count_events(body)
        headers = response.headers
        if "Location" in headers:
            # Masked before classify() quotes (and tidies) any of it.
            headers = requests.structures.CaseInsensitiveDict(headers)
            headers["Location"] = self._redact(headers["Location"])
        answer = classify(response.status_code, response.content, headers, count=count)
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
        """Fetch up to ``count`` fresh ids from ``/get/key`` (Dengage may answer
        fewer); raises DengageAPIError."""
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
            raise ValueError(f"count must be an integer from 1 to 1000, got {count!r}")
        try:
            response = self.session.get(
                self.base_url + KEYS_PATH,
                params={"count": count},
                timeout=timeout or self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DengageAPIError(self._redact(f"/get/key failed: {exc}")) from None
        if response.status_code != 200:
            hint = ""
            if 300 <= response.status_code < 400:
                hint = " (a redirect, not followed: check DENGAGE_DATA_CENTER_URL)"
            raise DengageAPIError(
                f"/get/key answered HTTP {response.status_code}{hint}",
                status=response.status_code,
            )
        try:
            keys = response.json()
        except ValueError:
            raise DengageAPIError("/get/key answered something that is not JSON") from None
        if not isinstance(keys, list) or not 1 <= len(keys) <= count:
            raise DengageAPIError(f"/get/key answered no list of 1 to {count} ids")
        # Items that are neither strings nor numbers are dropped; the pool
        # checks the rest (tracking.ids.is_valid_id).
        return [str(k) for k in keys if isinstance(k, (str, int)) and not isinstance(k, bool)]
