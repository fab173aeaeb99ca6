"""A fake Dengage data center for tests and local development.

:class:`FakeDengageServer` is a real HTTP server (standard library only) that
answers the way Dengage's data center does, so code that talks to Dengage over
HTTP can be exercised end to end without the network::

    from dengage_django.testing import FakeDengageServer

    def test_sends_page_view():
        with FakeDengageServer() as server, server.override_settings():
            ...  # record an event and let the sender deliver it
            (event,) = server.wait_for_events(1)
            assert event["name"] == "PAGE_VIEW"

The server can also misbehave on demand so retries and error handling can be
tested. Queued faults, each for the next request(s):

* :meth:`~FakeDengageServer.fail_next`: an HTTP error (``Retry-After`` optional);
* :meth:`~FakeDengageServer.status_code_next`: an HTTP 200 carrying any
  ``statusCode``, Dengage's documented ones or one it never documented
  (``status_code_next("SOMETHING_NEW")``: an API that changed);
* :meth:`~FakeDengageServer.delay_next`: a slow answer (the events still taken);
* :meth:`~FakeDengageServer.drop_next`: a connection closed unanswered;
* :meth:`~FakeDengageServer.redirect_next`: a 3xx redirect (by default to the
  same request on this server, so a client that follows it gets through);
* :meth:`~FakeDengageServer.short_responses_next`: the events are taken, but
  the success answer's ``responses`` and ``campaigns`` hold fewer entries
  than events.

Rules, until cleared: :meth:`~FakeDengageServer.reject_events` (batches
holding a matching event), :meth:`~FakeDengageServer.reject_all` (every
batch: a proxy that mangles bodies, an API change),
:meth:`~FakeDengageServer.set_failure_rate` and
:meth:`~FakeDengageServer.set_delay`.

The account's origin is compared as browsers send it: scheme and host in
lower case, an internationalised host in its punycode form, so a fake bound
to ``https://mağaza.example.com.tr`` accepts
``Origin: https://xn--maaza-l1a.example.com.tr``.

Run it alone with ``python -m dengage_django.testing`` (``--help`` for the
options) to point a development shop at it and watch the events arrive.

Endpoints (paths are relative to :attr:`FakeDengageServer.url`):

``POST /add/events/v1.json?apiKey=KEY``
    A JSON array of events. Checked in Dengage's order; every error is an HTTP
    200 whose JSON body carries a ``statusCode``: ``NO_API_KEY``,
    ``NO_ACCOUNT``, ``NO_DOMAIN_APIKEY_MATCH``, ``BAD_INPUT``, ``NO_EVENT``,
    ``NO_USERID``, ``NO_SESSIONID``. Success is an HTTP 200 with
    ``{"timestamp": ms, "responses": [[]...], "campaigns": [[]...]}``.
``GET /get/key?count=N``
    A JSON array of ``N`` (default 1, at most 1000) unique numeric-looking ids;
    a bad ``count`` is an HTTP 400.
``GET /_fake/events`` and ``POST /_fake/reset``
    Control endpoints of the fake itself: the accepted events as JSON, and
    :meth:`FakeDengageServer.reset`. They are never faulted nor recorded.

The two Dengage endpoints never redirect unless :meth:`~FakeDengageServer.redirect_next`
asks them to.

Anything else is an HTTP 404.
"""

import http
import json
import random
import secrets
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["FakeDengageServer", "RecordedRequest"]

DEFAULT_API_KEY = "11111111-2222-3333-4444-555555555555"
DEFAULT_ORIGIN = "https://shop.example.com"
EVENTS_PATH = "/add/events/v1.json"
KEYS_PATH = "/get/key"
MAX_KEY_COUNT = 1000
ENDPOINTS = ("events", "keys")


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the fake received, and how it answered.

    ``query`` maps each query parameter to its (last) value, so
    ``query.get("apiKey")`` is the key the client sent. ``headers`` keeps the
    header names as the client spelled them. ``status`` is the HTTP status
    answered (``None`` when the connection was dropped without an answer) and
    ``status_code`` the Dengage ``statusCode`` of the body, if any.
    """

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    status: int | None
    status_code: str | None = None

    def json(self):
        """Decode the request body as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class _Answer:
    """What to send back: an HTTP status, a body and extra headers.

    A ``status`` of ``None`` means "close the connection without answering".
    """

    status: int | None
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    status_code: str | None = None


@dataclass(frozen=True)
class _Fault:
    """A misbehaviour for one request: a delay, then optionally an answer.

    ``redirect`` is ``(status, location)`` for a redirect (a ``None``
    location: the same request on this server); ``short_by`` handles the
    request normally but leaves that many entries out of a success answer's
    ``responses`` and ``campaigns``.
    """

    delay: float = 0.0
    answer: _Answer | None = None
    redirect: tuple | None = None
    short_by: int = 0


def _json_answer(payload, status=200, headers=None):
    """An answer whose body is ``payload`` encoded as JSON."""
    status_code = payload.get("statusCode") if isinstance(payload, dict) else None
    return _Answer(
        status=status,
        body=json.dumps(payload).encode(),
        headers=dict(headers or {}),
        status_code=status_code,
    )


def _status_code_answer(code):
    """Dengage's error answer: an HTTP 200 carrying ``statusCode``."""
    return _json_answer({"timestamp": "", "responses": [], "statusCode": code})


def _http_error_answer(status, body=None, retry_after=None, headers=None):
    """An HTTP error answer; ``body`` may be bytes, str, or JSON-able data."""
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if body is None:
        body = {"error": http.HTTPStatus(status).phrase}
    if isinstance(body, bytes | str):
        data = body.encode() if isinstance(body, str) else body
        return _Answer(status=status, body=data, content_type="text/plain", headers=headers)
    return _json_answer(body, status=status, headers=headers)


def _dropped_answer():
    """Close the connection without answering."""
    return _Answer(status=None)


def _check_endpoint(endpoint):
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")


def _check_count(count):
    if count < 1:
        raise ValueError("count must be at least 1")


def _origin_or_none(origin):
    """``None`` for "accept any origin" spellings, else the origin without a final slash."""
    if origin in (None, "", "*"):
        return None
    return origin.rstrip("/")


def _ascii_host(host):
    """``host`` in punycode as browsers send it (UTS #46 through the ``idna``
    package when installed, it comes with requests; else Python's codec), or
    ``None`` when it cannot be encoded."""
    if host.isascii():
        return host.lower()
    try:
        import idna
    except ImportError:  # pragma: no cover - requests brings it
        idna = None
    if idna is not None:
        try:
            return idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError:
            pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _normalised_origin(origin):
    """``origin`` as compared: no final slash, scheme and host in lower case,
    an internationalised host in punycode; unparseable values unchanged."""
    origin = origin.strip().rstrip("/")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return origin
    host = _ascii_host(parts.hostname or "")
    if not parts.scheme or not host:
        return origin
    netloc = host if port is None else f"{host}:{port}"
    return parts._replace(scheme=parts.scheme.lower(), netloc=netloc).geturl()


class FakeDengageServer:
    """A fake Dengage data center listening on a real local port.

    :param api_key: the only API key the fake account accepts.
    :param origin: the shop origin the account is bound to; requests whose
        ``Origin`` header differs get ``NO_DOMAIN_APIKEY_MATCH`` (compared
        case-insensitively, an internationalised host in punycode). ``None``
        accepts any origin, or none.
    :param host: the interface to listen on.
    :param port: the port; 0 picks a free one (read it from :attr:`port`).
    :param on_batch: optional callable called with each accepted batch (a list
        of event dicts), from the server thread, after it is recorded.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Every
    method is thread-safe. Records (:attr:`events`, :attr:`batches`,
    :attr:`requests`, :attr:`issued_keys`) are returned as copies.

    Queued faults (``fail_next``, ``status_code_next``, ``delay_next``,
    ``drop_next``, ``redirect_next``, ``short_responses_next``) each apply to
    one request, first queued first used, on the events endpoint unless
    ``endpoint="keys"`` targets ``/get/key``. Rules (:meth:`reject_events`,
    :meth:`reject_all`, :meth:`set_failure_rate`, :meth:`set_delay`) stay
    until changed and apply to the events endpoint only.
    """

    def __init__(
        self,
        api_key=DEFAULT_API_KEY,
        origin=DEFAULT_ORIGIN,
        host="127.0.0.1",
        port=0,
        *,
        on_batch=None,
    ):
        self.host = host
        self._requested_port = port
        self._on_batch = on_batch
        self._lock = threading.Lock()
        self._events_arrived = threading.Condition(self._lock)
        self._api_key = api_key
        self._origin = _origin_or_none(origin)
        self._delay = 0.0
        self._rules = []
        self._failure_rate = 0.0
        self._failure_choices = ()
        self._random = random.Random()
        self._httpd = None
        self._thread = None
        self._clear_records()

    # Life cycle.

    def start(self):
        """Start listening and serving in a daemon thread; does nothing if running."""
        with self._lock:
            if self._httpd is not None:
                return self
            self._httpd = _HTTPServer((self.host, self._requested_port), self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"FakeDengageServer:{self._httpd.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self):
        """Stop serving, close open connections and the socket; does nothing if stopped."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        """The port listened on (the real one when constructed with port 0)."""
        httpd = self._httpd
        if httpd is None:
            raise RuntimeError("the fake Dengage server is not running")
        return httpd.server_port

    @property
    def url(self):
        """The data center URL, ``http://HOST:PORT``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    # Account configuration.

    @property
    def api_key(self):
        """The API key currently accepted."""
        with self._lock:
            return self._api_key

    @property
    def origin(self):
        """The origin currently required, or ``None`` when any is accepted."""
        with self._lock:
            return self._origin

    def set_api_key(self, key):
        """Accept ``key`` from now on (others get ``NO_ACCOUNT``)."""
        with self._lock:
            self._api_key = key

    def set_origin(self, origin):
        """Require ``origin`` from now on; ``None``, ``""`` or ``"*"`` accept any."""
        with self._lock:
            self._origin = _origin_or_none(origin)

    def settings_overrides(self):
        """The ``DENGAGE_*`` settings that point dengage-django at this server."""
        return {
            "DENGAGE_API_KEY": self.api_key,
            "DENGAGE_DATA_CENTER_URL": self.url,
            "DENGAGE_ORIGIN": self.origin or DEFAULT_ORIGIN,
        }

    def override_settings(self):
        """``django.test.override_settings`` with :meth:`settings_overrides`."""
        from django.test import override_settings

        return override_settings(**self.settings_overrides())

    # Records.

    @property
    def events(self):
        """Every accepted event, in arrival order, as decoded dicts."""
        with self._lock:
            return list(self._events)

    @property
    def batches(self):
        """The events of each accepted POST, one list per request."""
        with self._lock:
            return [list(batch) for batch in self._batches]

    @property
    def requests(self):
        """A :class:`RecordedRequest` for every request received, faulted or not."""
        with self._lock:
            return list(self._requests)

    @property
    def issued_keys(self):
        """Every id handed out by ``/get/key``, in order."""
        with self._lock:
            return list(self._issued_keys)

    def reset(self):
        """Forget every record and queued fault; account settings and rules stay."""
        with self._lock:
            self._clear_records()

    def wait_for_events(self, n, timeout=5.0):
        """Wait until at least ``n`` events are recorded and return all events.

        :raises TimeoutError: if fewer than ``n`` arrived within ``timeout`` seconds.
        """
        with self._events_arrived:
            if not self._events_arrived.wait_for(lambda: len(self._events) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} events within {timeout}s, got {len(self._events)}"
                )
            return list(self._events)

    def _clear_records(self):
        """Empty the records and fault queues; the caller holds the lock (or is __init__)."""
        self._events = []
        self._batches = []
        self._requests = []
        self._issued_keys = []
        self._issued_key_set = set()
        self._faults = {endpoint: deque() for endpoint in ENDPOINTS}

    # Queued faults.

    def fail_next(self, count=1, *, status=500, body=None, retry_after=None, endpoint="events"):
        """Answer the next ``count`` requests with HTTP ``status`` instead of handling them.

        ``body`` may be bytes, str or JSON-able data (default: a small JSON
        error); ``retry_after`` (seconds) adds a ``Retry-After`` header.
        """
        self._queue(_Fault(answer=_http_error_answer(status, body, retry_after)), count, endpoint)

    def status_code_next(self, code, count=1, *, endpoint="events"):
        """Answer the next ``count`` requests with an HTTP 200 carrying ``statusCode: code``."""
        self._queue(_Fault(answer=_status_code_answer(code)), count, endpoint)

    def delay_next(self, seconds, count=1, *, endpoint="events"):
        """Sleep ``seconds`` before handling each of the next ``count`` requests normally.

        The request is still processed (and its events recorded) after the
        delay, as when a client times out after the data center had its data.
        """
        self._queue(_Fault(delay=seconds), count, endpoint)

    def drop_next(self, count=1, *, endpoint="events"):
        """Read each of the next ``count`` requests, then close the connection unanswered."""
        self._queue(_Fault(answer=_dropped_answer()), count, endpoint)

    def redirect_next(self, count=1, *, status=308, location=None, endpoint="events"):
        """Answer the next ``count`` requests with an HTTP ``status`` redirect (3xx).

        ``location`` is the ``Location`` header; by default the same path and
        query (the API key included) on this server, so a client that
        follows the redirect gets through and its events are recorded.
        """
        if not 300 <= status < 400:
            raise ValueError(f"a redirect status is 300 to 399, not {status}")
        self._queue(_Fault(redirect=(status, location)), count, endpoint)

    def short_responses_next(self, count=1, *, missing=1):
        """Take the next ``count`` batches of events as usual, but answer each
        success with ``missing`` fewer entries (at least none) in ``responses``
        and ``campaigns`` than events. An error answer is left as it is."""
        if missing < 1:
            raise ValueError("missing must be at least 1")
        self._queue(_Fault(short_by=missing), count, "events")

    def _queue(self, fault, count, endpoint):
        _check_endpoint(endpoint)
        _check_count(count)
        with self._lock:
            self._faults[endpoint].extend([fault] * count)

    # Rules.

    def reject_events(self, predicate, *, status_code="BAD_INPUT", status=200):
        """Reject, from now on, every batch holding an event for which ``predicate(event)``.

        The whole batch is refused and nothing of it recorded: with ``status``
        200 the answer carries ``statusCode: status_code``, otherwise it is an
        HTTP ``status`` error. The check comes after Dengage's own checks.
        """
        if status == 200:
            answer = _status_code_answer(status_code)
        else:
            answer = _http_error_answer(status)
        with self._lock:
            self._rules.append((predicate, answer))

    def reject_all(self, *, status_code="BAD_INPUT", status=200):
        """Reject, from now on, every batch that passes Dengage's own checks.

        As :meth:`reject_events` with a predicate true for every event: a
        proxy that mangles bodies, or an API change. :meth:`clear_rules`
        ends it.
        """
        self.reject_events(lambda event: True, status_code=status_code, status=status)

    def clear_rules(self):
        """Remove every :meth:`reject_events` and :meth:`reject_all` rule."""
        with self._lock:
            self._rules.clear()

    def set_failure_rate(
        self,
        rate,
        *,
        seed=None,
        statuses=(500, 503, 429),
        retry_after=1,
        include_timeouts=False,
        timeout_delay=2.0,
        include_drops=False,
    ):
        """Make each events POST fail at random with probability ``rate`` (0 turns it off).

        A failure is one of ``statuses`` (a 429 carries ``Retry-After:
        retry_after``), picked uniformly together with, when enabled, a
        ``timeout_delay`` delay before a normal answer and a dropped
        connection. ``seed`` makes the sequence repeatable.
        """
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        choices = [
            _Fault(answer=_http_error_answer(s, retry_after=retry_after if s == 429 else None))
            for s in statuses
        ]
        if include_timeouts:
            choices.append(_Fault(delay=timeout_delay))
        if include_drops:
            choices.append(_Fault(answer=_dropped_answer()))
        if rate and not choices:
            raise ValueError("a failure rate needs at least one kind of failure")
        with self._lock:
            self._failure_rate = rate
            self._failure_choices = tuple(choices)
            self._random = random.Random(seed)

    def set_delay(self, seconds):
        """Delay every events POST by ``seconds`` from now on (0 turns it off)."""
        with self._lock:
            self._delay = seconds

    # Request handling, called from the handler threads.

    def _next_fault(self, endpoint):
        """The fault for this request: a queued one, else maybe a random one."""
        with self._lock:
            if self._faults[endpoint]:
                return self._faults[endpoint].popleft()
            failing = endpoint == "events" and self._random.random() < self._failure_rate
            if failing:
                return self._random.choice(self._failure_choices)
            return None

    def _handle(self, method, path, query, headers, body):
        """Answer one request to a Dengage endpoint, applying faults and recording it."""
        endpoint = "events" if path == EVENTS_PATH else "keys"
        fault = self._next_fault(endpoint) or _Fault()
        delay = fault.delay + (self._delay if endpoint == "events" else 0.0)
        if delay:
            time.sleep(delay)
        answer = fault.answer
        if fault.redirect is not None:
            status, location = fault.redirect
            if location is None:
                location = f"{self.url}{path}" + (f"?{urlencode(query)}" if query else "")
            answer = _http_error_answer(status, b"", headers={"Location": location})
        if answer is None:
            if endpoint == "events":
                answer = self._handle_events(query, headers, body, short_by=fault.short_by)
            else:
                answer = self._handle_keys(query)
        record = RecordedRequest(
            method, path, query, headers, body, answer.status, answer.status_code
        )
        with self._lock:
            self._requests.append(record)
        return answer

    def _handle_events(self, query, headers, body, short_by=0):
        """Validate a batch as Dengage does and record it if accepted; a
        success answers ``short_by`` entries fewer than events."""
        with self._lock:
            api_key, origin, rules = self._api_key, self._origin, list(self._rules)
        error = _check_account(query, headers, api_key, origin)
        batch = None
        if error is None:
            batch, error = _parse_batch(body)
        if error is not None:
            return _status_code_answer(error)
        for predicate, answer in rules:
            if any(predicate(event) for event in batch):
                return answer
        with self._events_arrived:
            self._events.extend(batch)
            self._batches.append(batch)
            self._events_arrived.notify_all()
        if self._on_batch is not None:
            self._on_batch(list(batch))
        entries = max(len(batch) - short_by, 0)
        return _json_answer(
            {
                "timestamp": int(time.time() * 1000),
                "responses": [[] for _ in range(entries)],
                "campaigns": [[] for _ in range(entries)],
            }
        )

    def _handle_keys(self, query):
        """Hand out ``count`` new unique ids."""
        try:
            count = int(query.get("count", "1"))
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_KEY_COUNT:
            return _http_error_answer(400, {"error": f"count must be 1 to {MAX_KEY_COUNT}"})
        keys = []
        with self._lock:
            while len(keys) < count:
                key = str(secrets.randbits(64) - 2**63)
                if key not in self._issued_key_set:
                    self._issued_key_set.add(key)
                    keys.append(key)
            self._issued_keys.extend(keys)
        return _json_answer(keys)


def _check_account(query, headers, api_key, origin):
    """The statusCode for a bad API key or origin, or ``None``."""
    sent_key = query.get("apiKey")
    if not sent_key:
        return "NO_API_KEY"
    if sent_key != api_key:
        return "NO_ACCOUNT"
    if origin is not None:
        sent_origin = next((v for k, v in headers.items() if k.lower() == "origin"), "")
        if _normalised_origin(sent_origin) != _normalised_origin(origin):
            return "NO_DOMAIN_APIKEY_MATCH"
    return None


def _parse_batch(body):
    """Decode and check a batch: ``(events, None)`` or ``(None, statusCode)``."""
    try:
        batch = json.loads(body)
    except ValueError:
        return None, "BAD_INPUT"
    if not isinstance(batch, list) or not all(isinstance(event, dict) for event in batch):
        return None, "BAD_INPUT"
    if not batch:
        return None, "NO_EVENT"
    if not all(event.get("userId") for event in batch):
        return None, "NO_USERID"
    if not all(event.get("sessionId") for event in batch):
        return None, "NO_SESSIONID"
    return batch, None


class _HTTPServer(ThreadingHTTPServer):
    """The listening server: quiet about clients that go away, and able to close them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, fake):
        self.fake = fake
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        """End every open (keep-alive) connection, so no handler serves after stop."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Stay silent when a client goes away; report real bugs."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`FakeDengageServer` and writes its answers."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeDengage/1.0"
    # Headers and body go out in separate writes: without TCP_NODELAY the
    # body waits for the client's delayed ACK (~40 ms a request on Linux).
    disable_nagle_algorithm = True

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def log_message(self, format, *args):
        """Do not log each request to stderr."""

    def _dispatch(self):
        body = self._read_body()
        fake = self.server.fake
        parts = urlsplit(self.path)
        route = (self.command, parts.path)
        if route in (("POST", EVENTS_PATH), ("GET", KEYS_PATH)):
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = dict(self.headers.items())
            answer = fake._handle(self.command, parts.path, query, headers, body)
        elif route == ("GET", "/_fake/events"):
            answer = _json_answer(fake.events)
        elif route == ("POST", "/_fake/reset"):
            fake.reset()
            answer = _json_answer({"reset": True})
        else:
            answer = _http_error_answer(404)
        self._send(answer)

    def _read_body(self):
        """Read the request body, sent with a Content-Length or chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self):
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _send(self, answer):
        if answer.status is None:
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)
