"""HTTP client for the Dengage event API.

One :class:`requests.Session` per client (connection pooling), connect and
read timeouts from settings, the headers the vendor's own clients send.
HTTP only: what an answer means is :mod:`.answers`' business, keeping the
API key out of what this module lets out (exception messages, answer
reasons) :mod:`.redaction`'s.
"""

import logging

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
