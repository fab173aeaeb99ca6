"""The one place dengage-django reads its settings.

Every ``DENGAGE_*`` setting is read from ``django.conf.settings`` with its
default beside it, on first use, and kept until a setting changes: the
values are dropped when Django's settings object is replaced (as
``override_settings`` and pytest-django's ``settings`` fixture do) or
``setting_changed`` is sent, so tests can change them freely. Nothing is
read at import time::

    from dengage_django.conf import dengage_settings
    dengage_settings.BATCH_SIZE  # settings.DENGAGE_BATCH_SIZE or 100

The README's settings reference documents each of these.
"""

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.functional import empty

#: Setting name (without the ``DENGAGE_`` prefix) -> default.
DEFAULTS = {
    # The three needed to send.
    "API_KEY": "",
    "DATA_CENTER_URL": "",
    "ORIGIN": "",
    # Recording.
    "ENABLED": True,
    "STRICT": None,  # None: follow settings.DEBUG
    "TEST_MODE": False,
    "DEFAULT_LANG": None,
    "DEFAULT_CURRENCY": None,
    "DEFAULT_REGION": None,
    "MAX_STRING_LENGTH": 2048,
    "MAX_EVENT_BYTES": 32 * 1024,
    # Delivery.
    "BATCH_SIZE": 100,
    "BATCH_MAX_BYTES": 512 * 1024,
    "CONNECT_TIMEOUT": 3.05,
    "TIMEOUT": 10.0,
    "MAX_ATTEMPTS": 20,
    "RETRY_BASE_DELAY": 10.0,
    "RETRY_MAX_DELAY": 3600.0,
    "LEASE_SECONDS": 45,
    "CONFIGURATION_ERROR_PAUSE": 300.0,
    # User-Agent classification (dengage_django.tracking.device).
    "APP_USER_AGENTS": {},  # {"IOS": [regex, ...], "ANDROID": [regex, ...]}
    "TRACK_BOTS": False,  # callers skip tracking when device.is_bot() unless True
    "BOT_USER_AGENTS": (),  # extra regexes (re.search) that mark a User-Agent as a bot
    # Identity (dengage_django.tracking.identity).
    "ID_SOURCE": "dengage",  # or "local"
    "ID_POOL_SIZE": 100,
    "ID_FETCH_TIMEOUT": 0.5,
    "ID_FETCH_BACKOFF": 60.0,
    "USER_COOKIE_NAME": "dengage_uid",
    "USER_COOKIE_AGE": 390 * 24 * 3600,
    "SESSION_COOKIE_NAME": "dengage_sid",
    "SESSION_TIMEOUT": 30 * 60,
    "COOKIE_DOMAIN": None,  # e.g. ".example.com" to share ids between www. and m.
    "COOKIE_SECURE": None,  # None: Secure when request.is_secure()
    # Which requests are tracked (dengage_django.tracking.policy).
    "EXCLUDED_PATHS": (),  # regexes added to the admin, STATIC_URL and MEDIA_URL prefixes
    "CONSENT": None,  # callable(request) -> bool, or its dotted path
    "RESPECT_GPC": False,
    # Users (dengage_django.recording.receivers, dengage_django.events.users).
    "USER_EVENTS": True,  # signup/signin/signout/update from auth signals and saves
    "USER_FIELDS": None,  # callable(user) -> mapping, or its dotted path
    "SEND_CONTACT_DETAILS": True,  # False: never send email or phone
    "USER_CONSENT": None,  # callable(user) -> bool for events about a user; None: remembered
    # Operations (retention, monitoring, task queues).
    "RETENTION_DAYS": 30,  # sent events older than this are purged; None keeps them
    "STATUS_MAX_AGE": 900,  # dengage_status fails when the oldest due event is older
    "TASK_ON_RECORD": False,  # enqueue the send task when events are recorded
    "TASK_THROTTLE": 10.0,  # at most one enqueued task per this many seconds
    # Reading products and baskets (dengage_django.events.adapters).
    "PRODUCT_ADAPTER": None,
    "BASKET_ADAPTER": None,
}

PREFIX = "DENGAGE_"


class DengageSettings:
    """Attribute access to ``DENGAGE_*`` settings (see the module docstring).

    A setting Django does not have costs an AttributeError each time it is
    looked up (about 2 µs); a tracked request reads some twenty of them.
    """

    def __init__(self):
        # (Django's settings object the values came from, the values): one
        # tuple, swapped whole, so a thread never files a value read from
        # one settings object under another.
        self._cache = (None, {})

    def _get(self, name):
        source = settings._wrapped
        if source is empty:  # not set up yet: LazySettings does that
            return getattr(settings, PREFIX + name, DEFAULTS[name])
        cached_source, values = self._cache
        if source is not cached_source:
            values = {}
            self._cache = (source, values)
        try:
            return values[name]
        except KeyError:
            value = values[name] = getattr(source, PREFIX + name, DEFAULTS[name])
            return value

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"no dengage-django setting named {name!r}")
        return self._get(name)

    @property
    def STRICT(self):
        strict = self._get("STRICT")
        if strict is None:
            return bool(settings.DEBUG)
        return bool(strict)

    @property
    def DATA_CENTER_URL(self):
        return (self._get("DATA_CENTER_URL") or "").rstrip("/")

    def is_set(self, name):
        """Whether the project sets ``DENGAGE_<name>`` itself."""
        return hasattr(settings, PREFIX + name)

    def reload(self):
        """Forget the values read so far."""
        self._cache = (None, {})


dengage_settings = DengageSettings()


def _reload(*, setting, **kwargs):
    if setting.startswith(PREFIX) or setting == "DEBUG":
        dengage_settings.reload()


setting_changed.connect(_reload, dispatch_uid="dengage_django.conf.reload")
