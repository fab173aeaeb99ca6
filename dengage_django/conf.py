"""The one place dengage-django reads its settings, and the one table of them.

:data:`SETTINGS` lists every ``DENGAGE_*`` setting once: its name, default,
type, the validator its system check uses (``checks.VALIDATORS`` maps the
``check`` kind to a function), the section and the line the settings
reference shows (``docs/settings.rst`` is generated from it).

Where a value comes from, first found wins:

1. Django's settings (``settings.DENGAGE_API_KEY``);
2. the environment, for settings of a plain type (strings, numbers,
   booleans), read and cast with django-environ: ``DENGAGE_API_KEY=...``
   in the process environment, or in the ``.env`` file named by
   ``DENGAGE_ENV_FILE`` (a setting or an environment variable; variables
   already set win over the file);
3. the default.

Values are read on first use and kept until a setting changes: they are
dropped when Django's settings object is replaced (as ``override_settings``
and pytest-django's ``settings`` fixture do) or ``setting_changed`` is sent,
so tests can change them freely. Nothing is read at import time::

    from dengage_django.conf import dengage_settings
    dengage_settings.BATCH_SIZE  # settings.DENGAGE_BATCH_SIZE, $DENGAGE_BATCH_SIZE or 100

What becomes a setting: what a shop has a reason to change (its account,
its cookies, its privacy rules, its delivery budget). Tunables of the
mechanism itself (``delivery.sender.REQUESTS_PER_CLAIM``, ``LEASE_MARGIN``,
``identity.SEEN_GRANULARITY`` ...) stay module constants, documented where
they are defined, until a shop shows a reason to change one.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Final, Literal, NamedTuple

import environ
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.functional import empty
from django.utils.module_loading import import_string

PREFIX = "DENGAGE_"


class Setting(NamedTuple):
    """One ``DENGAGE_*`` setting (``name`` without the prefix)."""

    name: str
    default: Any
    type: str
    check: str
    section: str
    doc: str

    @property
    def from_environment(self) -> bool:
        """Whether the environment may give this setting (plain types)."""
        return self.check in ENVIRONMENT_CASTS


#: Validator kinds whose values the environment can carry, and how to cast.
ENVIRONMENT_CASTS = {
    "str": "str",
    "str?": "str",
    "id_source": "str",
    "bool": "bool",
    "bool?": "bool",
    "int": "int",
    "int?": "int",
    "number": "float",
    "number>=0": "float",
}

# fmt: off
SETTINGS = (
    # -- Sending
    Setting("API_KEY", "", "str", "str", "Sending",
            "the account's API key (a secret)"),
    Setting("DATA_CENTER_URL", "", "str", "str", "Sending",
            "the account's data center, e.g. ``https://dce1.segmentify.com``"),
    Setting("ORIGIN", "", "str", "str", "Sending",
            "the shop's URL, sent as the ``Origin`` header; must match the account's domain"),
    # -- Recording
    Setting("ENABLED", True, "bool", "bool", "Recording",
            "``False``: ``track()`` records nothing"),
    Setting("STRICT", None, "bool/None", "bool?", "Recording",
            "raise on invalid events; ``None`` follows ``DEBUG``"),
    Setting("TEST_MODE", False, "bool", "bool", "Recording",
            "mark every event ``testMode: true`` (only test campaigns process it; left out of "
            "reports)"),
    Setting("DEFAULT_LANG", None, "str/None", "str?", "Recording",
            "``lang`` for events that give none"),
    Setting("DEFAULT_CURRENCY", None, "str/None", "str?", "Recording",
            "``currency`` for events that give none"),
    Setting("DEFAULT_REGION", None, "str/None", "str?", "Recording",
            "``region`` for events that give none"),
    Setting("MAX_STRING_LENGTH", 2048, "int", "int", "Recording",
            "longer strings: an error when strict, cut when lenient (ids: 128, always an error)"),
    Setting("MAX_EVENT_BYTES", 32 * 1024, "int", "int", "Recording",
            "larger events are refused as invalid"),
    # -- Delivery
    Setting("BATCH_SIZE", 100, "int", "int", "Delivery",
            "events per request"),
    Setting("BATCH_MAX_BYTES", 512 * 1024, "int", "int", "Delivery",
            "bytes per request body"),
    Setting("CONNECT_TIMEOUT", 3.05, "float", "number", "Delivery",
            "seconds to connect to Dengage"),
    Setting("TIMEOUT", 10.0, "float", "number", "Delivery",
            "seconds to wait for Dengage's answer"),
    Setting("MAX_ATTEMPTS", 20, "int", "int", "Delivery",
            "tries before an event goes ``dead`` (about 15 hours of outage with the defaults "
            "below)"),
    Setting("RETRY_BASE_DELAY", 10.0, "float", "number>=0", "Delivery",
            "first retry delay, doubled each attempt"),
    Setting("RETRY_MAX_DELAY", 3600.0, "float", "number>=0", "Delivery",
            "longest retry delay"),
    Setting("LEASE_SECONDS", 45, "float", "number", "Delivery",
            "how long a worker holds claimed events; a dead worker's events are claimed again "
            "after this"),
    Setting("CONFIGURATION_ERROR_PAUSE", 300.0, "float", "number>=0", "Delivery",
            "seconds a configuration error stops sending: a ``--loop`` sender's, and "
            "live calls (``request.dengage.decide()``)"),
    # -- Decisions
    Setting("LIVE_TIMEOUT", 0.3, "float", "number", "Decisions",
            "seconds ``request.dengage.decide()`` gives its live call: the POST, connecting "
            "included, gets what storing the events left; late, the page renders without "
            "widgets and the sender delivers its events"),
    # -- Identity
    Setting("ID_SOURCE", "dengage", "str", "id_source", "Identity",
            "where new ids come from: ``\"dengage\"`` (``/get/key``) or ``\"local\"``"),
    Setting("ID_POOL_SIZE", 100, "int", "int", "Identity",
            "ids fetched per ``/get/key`` call"),
    Setting("ID_FETCH_TIMEOUT", 0.5, "float", "number", "Identity",
            "seconds the background refill of the id pool waits for ``/get/key`` "
            "(no page waits for it)"),
    Setting("ID_FETCH_BACKOFF", 60.0, "float", "number>=0", "Identity",
            "after a failed fetch, seconds of local ids only"),
    Setting("USER_COOKIE_NAME", "dengage_uid", "str", "str", "Identity",
            "the userId cookie"),
    Setting("USER_COOKIE_AGE", 390 * 24 * 3600, "int", "int", "Identity",
            "its lifetime in seconds (390 days)"),
    Setting("SESSION_COOKIE_NAME", "dengage_sid", "str", "str", "Identity",
            "the sessionId cookie (only without ``SessionMiddleware``)"),
    Setting("SESSION_TIMEOUT", 30 * 60, "int", "int", "Identity",
            "seconds of inactivity that end a session"),
    Setting("COOKIE_DOMAIN", None, "str/None", "str?", "Identity",
            "domain of the id cookies (``\".example.com\"`` shares them between subdomains)"),
    Setting("COOKIE_SECURE", None, "bool/None", "bool?", "Identity",
            "``Secure`` id cookies; ``None``: when ``request.is_secure()`` (see "
            "``SECURE_PROXY_SSL_HEADER``)"),
    # -- Tracking
    Setting("EXCLUDED_PATHS", (), "list/None", "patterns?", "Tracking",
            "regexes matched at the start of the path (after a language prefix), added to the "
            "admin, ``STATIC_URL`` and ``MEDIA_URL``"),
    Setting("PAGE_CATEGORIES", {}, "dict", "page_categories", "Tracking",
            "PAGE_VIEW ``category`` (or ``[category, subCategory]``) by URL name: "
            "``{\"shop:product\": \"Product Page\", \"checkout:*\": \"Checkout Page\"}``; "
            "``\"ns:*\"`` a whole namespace, ``\"*\"`` every page, ``\"404\"`` pages answered "
            "404 (which are then page views too); what the view or its template sets wins"),
    Setting("CONSENT", None, "callable", "callable", "Tracking",
            "``f(request) -> bool`` (or its dotted path); ``None``: everyone is tracked"),
    Setting("RESPECT_GPC", False, "bool", "bool", "Tracking",
            "treat ``Sec-GPC: 1`` as no consent"),
    Setting("TRACK_BOTS", False, "bool", "bool", "Tracking",
            "record events for bots too"),
    Setting("BOT_USER_AGENTS", (), "list", "patterns", "Tracking",
            "more regexes (``re.search``) marking bots"),
    Setting("APP_USER_AGENTS", {}, "dict", "app_user_agents", "Tracking",
            "``{\"IOS\": [regex], \"ANDROID\": [regex]}`` for your native apps"),
    # -- Users
    Setting("USER_EVENTS", True, "bool", "bool", "Users",
            "report sign-ups, logins, logouts and profile changes from auth signals and user "
            "saves"),
    Setting("USER_FIELDS", None, "callable", "callable", "Users",
            "``f(user) -> mapping`` of USER_OPERATIONS fields (or its dotted path); ``None``: see "
            "Users"),
    Setting("SEND_CONTACT_DETAILS", True, "bool", "bool", "Users",
            "``False``: no e-mail address or phone number leaves, under any field name"),
    Setting("USER_CONSENT", None, "callable/path/None", "callable", "Users",
            "``callable(user) -> bool`` for events about a user away from their browser; "
            "``None``: what their last tracked request decided"),
    # -- Operations
    Setting("RETENTION_DAYS", 30, "int/None", "int?", "Operations",
            "the sender deletes sent events older than this many days (in small batches); "
            "``None`` keeps them; dead and invalid events are always kept"),
    Setting("STATUS_MAX_AGE", 900, "int", "int", "Operations",
            "``dengage_status`` exits non-zero when the oldest due event is older than this many "
            "seconds"),
    Setting("TASK_ON_RECORD", False, "bool", "bool", "Operations",
            "enqueue the ``send_outbox`` task (Django's task framework) when events are recorded"),
    Setting("TASK_THROTTLE", 10.0, "float", "number>=0", "Operations",
            "at most one such task is enqueued per this many seconds (per process)"),
    Setting("ENV_FILE", None, "str/None", "str?", "Operations",
            "a ``.env`` file read (django-environ) for settings left to the environment; existing "
            "environment variables win"),
    # -- Adapters
    Setting("PRODUCT_ADAPTER", None, "callable", "callable", "Adapters",
            "``f(obj) -> mapping`` for products (or its dotted path); ``None``: mappings and "
            "``to_dengage()``"),
    Setting("BASKET_ADAPTER", None, "callable", "callable", "Adapters",
            "the same for baskets"),
    # -- django-oscar (dengage_django.contrib.oscar)
    Setting("OSCAR_PRODUCT_ADAPTER", None, "callable", "callable", "django-oscar",
            "``f(product, request) -> mapping`` of an Oscar product's PRODUCT_VIEW fields (or "
            "its dotted path); ``None``: "
            "``dengage_django.contrib.oscar.products.product_fields``"),
    Setting("OSCAR_PRODUCT_ID", None, "callable", "callable", "django-oscar",
            "``f(product) -> str``, an Oscar product's ``productId`` in every event (its "
            "page, baskets, checkouts, orders; or its dotted path); ``None``: the primary key"),
    Setting("OSCAR_BRAND_ATTRIBUTE", None, "str/None", "str?", "django-oscar",
            "the code of the product attribute holding the brand (a PRODUCT_VIEW's ``brand``)"),
    # -- Tracking: the flood guard
    Setting("NEW_VISITORS_PER_MINUTE", 30, "int/None", "int?", "Tracking",
            "new visitors (requests without a visitor cookie) per client address and minute; "
            "beyond, the address's requests without cookies are treated as bots; ``None``: no "
            "limit"),
    Setting("CLIENT_ADDRESS_HEADER", None, "str/None", "str?", "Tracking",
            "the ``request.META`` key of the header your proxy puts the client's address in "
            "(``\"HTTP_X_FORWARDED_FOR\"``: its last address); ``None``: ``REMOTE_ADDR``"),
    Setting("FLOOD_CACHE", "default", "str", "str", "Tracking",
            "the cache (an alias of ``CACHES``) counting new visitors, and events lost "
            "after their response (``dengage_status``); share it between processes"),
    # -- Operations: retention of dead and invalid events
    Setting("DEAD_RETENTION_DAYS", 90, "int/None", "int?", "Operations",
            "the sender deletes dead events recorded more than this many days ago "
            "(``--requeue-dead`` and the admin can revive them until then); ``None`` keeps them"),
    Setting("INVALID_RETENTION_DAYS", 30, "int/None", "int?", "Operations",
            "the sender deletes invalid events (never sent; kept to show what was refused) "
            "recorded more than this many days ago; ``None`` keeps them"),
)
# fmt: on

#: Setting name (without the ``DENGAGE_`` prefix) -> default.
DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
BY_NAME = {setting.name: setting for setting in SETTINGS}

#: Where a value came from (:meth:`DengageSettings.source`).
FROM_SETTINGS: Final = "settings"
FROM_ENVIRONMENT: Final = "environment"
FROM_DEFAULT: Final = "default"
Source = Literal["settings", "environment", "default"]


class DengageSettings:
    """Attribute access to ``DENGAGE_*`` settings (see the module docstring).

    A setting Django does not have costs an AttributeError each time it is
    looked up, and a tracked request reads some twenty of them, so values
    are kept once read. Whether they are still current is told by
    the identity of Django's settings object (``settings._wrapped``, an
    internal: ``override_settings`` and pytest-django's fixture replace it,
    and the fixture's delete sends no ``setting_changed``); ``bench/`` and
    the changelog carry the figures.
    """

    def __init__(self) -> None:
        # (Django's settings object the values came from, the values): one
        # tuple, swapped whole, so a thread never files a value read from
        # one settings object under another.
        self._cache: tuple[object, dict[str, Any]] = (None, {})
        self._env = environ.Env()
        self._env_files: set[str] = set()
        self._env_lock = threading.Lock()

    def _read(self, name: str) -> tuple[Any, Source]:
        """(value, source) of setting ``name``, uncached."""
        if hasattr(settings, PREFIX + name):
            return getattr(settings, PREFIX + name), FROM_SETTINGS
        setting = BY_NAME[name]
        if setting.from_environment:
            self._load_env_file()
            if PREFIX + name in os.environ:
                cast = getattr(self._env, ENVIRONMENT_CASTS[setting.check])
                return cast(PREFIX + name), FROM_ENVIRONMENT
        return setting.default, FROM_DEFAULT

    def _load_env_file(self) -> None:
        """Read the ``.env`` file ``DENGAGE_ENV_FILE`` names, once per path."""
        path = getattr(settings, PREFIX + "ENV_FILE", None) or os.environ.get(PREFIX + "ENV_FILE")
        if not path or path in self._env_files:
            return
        with self._env_lock:
            if path not in self._env_files:
                if os.path.exists(path):
                    environ.Env.read_env(path, overwrite=False)
                self._env_files.add(path)

    def _get(self, name: str) -> Any:
        source = settings._wrapped
        if source is empty:  # not set up yet: LazySettings does that
            return self._read(name)[0]
        cached_source, values = self._cache
        if source is not cached_source:
            values = {}
            self._cache = (source, values)
        try:
            return values[name]
        except KeyError:
            value = values[name] = self._read(name)[0]
            return value

    def __getattr__(self, name: str) -> Any:
        if name not in BY_NAME:
            raise AttributeError(f"no dengage-django setting named {name!r}")
        return self._get(name)

    @property
    def STRICT(self) -> bool:
        strict = self._get("STRICT")
        if strict is None:
            return bool(settings.DEBUG)
        return bool(strict)

    @property
    def DATA_CENTER_URL(self) -> str:
        return (self._get("DATA_CENTER_URL") or "").rstrip("/")

    def callable(self, name: str) -> Any:
        """Setting ``name``, a callable or its dotted path, as the callable
        (imported when a path; ``None`` stays ``None``)."""
        value = getattr(self, name)
        return import_string(value) if isinstance(value, str) else value

    def is_set(self, name: str) -> bool:
        """Whether the project sets ``DENGAGE_<name>`` itself (in its
        settings or, for plain types, in the environment)."""
        return self.source(name) != FROM_DEFAULT

    def source(self, name: str) -> Source:
        """Where ``DENGAGE_<name>`` comes from: ``"settings"``,
        ``"environment"`` or ``"default"`` (never the value)."""
        return self._read(name)[1]

    def raw(self, name: str) -> Any:
        """The value as the project gave it, uncached (for the checks)."""
        return self._read(name)[0]

    def reload(self) -> None:
        """Forget the values read so far."""
        self._cache = (None, {})


dengage_settings = DengageSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(PREFIX) or setting == "DEBUG":
        dengage_settings.reload()


setting_changed.connect(_reload, dispatch_uid="dengage_django.conf.reload")
