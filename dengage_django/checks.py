"""System checks for dengage-django's settings, middleware and tables.

Run by ``manage.py check`` (and before ``runserver``, ``migrate`` and test
runs). Ids are stable and never reused; ``CHECK_IDS`` lists every one with
its meaning, and docs/checks.rst documents them.

No message ever shows the value of a ``DENGAGE_*`` string setting: the data
center URL or a mis-filled setting may hold the API key. Messages name the
setting, what it must be and, for a wrong type, the type it has.
"""

import inspect
import ipaddress
import math
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Info, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router
from django.db.migrations.loader import MigrationLoader
from django.utils.module_loading import import_string

from .conf import FROM_ENVIRONMENT, PREFIX, SETTINGS, dengage_settings
from .tracking.device import regex_problem

APP_LABEL = "dengage_django"

#: Custom tag of every check here: ``manage.py check --tag dengage``.
TAG = "dengage"

#: The checks and their tags, registered by :func:`register_checks` (from
#: ``AppConfig.ready()``), not as a side effect of importing this module.
CHECKS: list[tuple] = []


def _check(*tags, deploy=False):
    def collect(function):
        CHECKS.append((function, tags, deploy))
        return function

    return collect


def register_checks():
    for function, tags, deploy in CHECKS:
        register(function, *tags, deploy=deploy)


#: Every check id with its meaning. Ids are never reused.
CHECK_IDS = {
    "dengage_django.E001": "DENGAGE_API_KEY is not set (DEBUG off)",
    "dengage_django.E002": "DENGAGE_DATA_CENTER_URL is not set (DEBUG off)",
    "dengage_django.E003": "DENGAGE_ORIGIN is not set (DEBUG off)",
    "dengage_django.E004": "DENGAGE_DATA_CENTER_URL is not an http(s) URL without path or query",
    "dengage_django.E005": "DENGAGE_ORIGIN is not scheme://host[:port]",
    "dengage_django.E006": "DengageMiddleware is before SessionMiddleware",
    "dengage_django.E007": "DengageMiddleware is before AuthenticationMiddleware",
    "dengage_django.E008": "a DENGAGE_* setting has the wrong type",
    "dengage_django.E009": "a DENGAGE_* pattern is not a valid regular expression",
    "dengage_django.E010": "a DENGAGE_* dotted path cannot be imported or is not callable",
    "dengage_django.E011": "a DENGAGE_* number is out of range",
    "dengage_django.E012": 'DENGAGE_ID_SOURCE is not "dengage" or "local"',
    "dengage_django.E013": "DENGAGE_BATCH_MAX_BYTES is smaller than DENGAGE_MAX_EVENT_BYTES",
    "dengage_django.E014": 'DENGAGE_APP_USER_AGENTS has a key other than "IOS"/"ANDROID"',
    "dengage_django.W001": "DENGAGE_API_KEY is not set (DEBUG on)",
    "dengage_django.W002": "DENGAGE_DATA_CENTER_URL is not set (DEBUG on)",
    "dengage_django.W003": "DENGAGE_ORIGIN is not set (DEBUG on)",
    "dengage_django.W004": "DengageMiddleware is not in MIDDLEWARE",
    "dengage_django.W005": "dengage_django has unapplied migrations",
    "dengage_django.W006": "DENGAGE_LEASE_SECONDS is not above CONNECT_TIMEOUT + TIMEOUT",
    "dengage_django.W007": "the site is HTTPS-only but the id cookies would not be Secure",
    "dengage_django.W008": "DENGAGE_DATA_CENTER_URL is plain http:// (not loopback)",
    "dengage_django.W009": "DENGAGE_FLOOD_CACHE names no cache of CACHES (the flood guard is off)",
    "dengage_django.W010": "the outbox's database lacks SKIP LOCKED (MariaDB <10.6, MySQL <8.0.1)",
    "dengage_django.E015": "DENGAGE_ORIGIN cannot be sent as an Origin header",
    "dengage_django.E016": "DENGAGE_PAGE_CATEGORIES maps a URL name to no category",
    "dengage_django.I001": "where each sending setting comes from (check --deploy)",
}

MIDDLEWARE_PATH = "dengage_django.middleware.DengageMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _check_id(number):
    return f"{APP_LABEL}.{number}"


def _skip(app_configs):
    """Whether ``manage.py check <labels>`` left dengage_django out."""
    if app_configs is None:
        return False
    return all(config.label != APP_LABEL for config in app_configs)


# -- Credentials and URLs ----------------------------------------------------

#: Setting name -> (Error id, Warning id) when it is missing.
REQUIRED = {
    "API_KEY": ("E001", "W001"),
    "DATA_CENTER_URL": ("E002", "W002"),
    "ORIGIN": ("E003", "W003"),
}


def _is_blank(value):
    if isinstance(value, str):
        return not value.strip()
    return value is None


@_check(TAG)
def check_credentials(app_configs=None, **kwargs):
    """The three settings needed to send: an Error, or a Warning with DEBUG."""
    if _skip(app_configs) or not dengage_settings.ENABLED:
        return []
    messages = []
    for name, (error_id, warning_id) in REQUIRED.items():
        if not _is_blank(dengage_settings.raw(name)):
            continue
        text = f"{PREFIX}{name} is not set: dengage-django cannot send events."
        hint = (
            f"Set {PREFIX}{name} (in settings or the environment), or DENGAGE_ENABLED = False "
            "where nothing should be tracked."
        )
        if settings.DEBUG:
            messages.append(Warning(text, hint=hint, id=_check_id(warning_id)))
        else:
            messages.append(Error(text, hint=hint, id=_check_id(error_id)))
    return messages


def _url_problem(value, allow_root_path):
    """What is wrong with an http(s) URL that must be only scheme, host and
    port, or None. Never quotes the value."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "does not start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "contains credentials"
    if parts.query:
        return "has a query string"
    if parts.fragment or value.strip().endswith("#"):
        return "has a fragment"
    if parts.path and not (allow_root_path and parts.path == "/"):
        return "has a path"
    return None


@_check(TAG)
def check_urls(app_configs=None, **kwargs):
    if _skip(app_configs):
        return []
    messages = []
    url = dengage_settings.raw("DATA_CENTER_URL")
    if isinstance(url, str) and url.strip():
        problem = _url_problem(url, allow_root_path=True)
        if problem:
            messages.append(
                Error(
                    f"{PREFIX}DATA_CENTER_URL {problem}.",
                    hint=(
                        "Give only the data center's scheme and host, e.g. "
                        "https://dce1.segmentify.com; the API key goes in DENGAGE_API_KEY."
                    ),
                    id=_check_id("E004"),
                )
            )
        elif _plain_http(url):
            messages.append(
                Warning(
                    f"{PREFIX}DATA_CENTER_URL uses http://: the API key would travel "
                    "unencrypted, and a redirect to https:// is refused.",
                    hint="Use the https:// URL on Dengage's Integrations page.",
                    id=_check_id("W008"),
                )
            )
    origin = dengage_settings.raw("ORIGIN")
    if isinstance(origin, str) and origin.strip():
        problem = _url_problem(origin, allow_root_path=False)
        if problem:
            messages.append(
                Error(
                    f"{PREFIX}ORIGIN {problem}.",
                    hint=(
                        "It is sent as the Origin header: scheme://host[:port], no path "
                        "and no trailing slash, e.g. https://www.yourshop.com."
                    ),
                    id=_check_id("E005"),
                )
            )
        else:
            messages.extend(_unsendable_origin(origin))
    return messages


def _plain_http(url):
    """An ``http://`` URL to anything but this machine (the fake data
    center on loopback is fine)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _unsendable_origin(origin):
    """E015 when the origin's host cannot be encoded for the Origin header
    (international hosts go as punycode; the message never quotes it)."""
    from .delivery.client import ascii_origin

    try:
        ascii_origin(origin.strip())
    except ValueError as exc:
        return [
            Error(
                f"{PREFIX}ORIGIN cannot be sent as an Origin header: {exc}.",
                hint="Give the host as browsers show it, or its xn-- form.",
                id=_check_id("E015"),
            )
        ]
    return []


# -- Middleware --------------------------------------------------------------


def _middleware_class(path):
    try:
        return import_string(path)
    except Exception:
        # Django reports middleware it cannot import when it loads it.
        return None


def _position(entries, path, base_path):
    """Index of the first entry that is ``path`` or a subclass of it, or None."""
    for index, entry in enumerate(entries):
        if entry == path:
            return index
    base = _middleware_class(base_path)
    if base is None:
        return None
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        candidate = _middleware_class(entry)
        if isinstance(candidate, type) and issubclass(candidate, base):
            return index
    return None


@_check(TAG)
def check_middleware(app_configs=None, **kwargs):
    if _skip(app_configs):
        return []
    entries = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours = _position(entries, MIDDLEWARE_PATH, MIDDLEWARE_PATH)
    if ours is None:
        return [
            Warning(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: page views are not recorded "
                "and request.dengage is not set.",
                hint=(
                    "Add it after SessionMiddleware and AuthenticationMiddleware, or "
                    "silence dengage_django.W004 if you only record events yourself."
                ),
                id=_check_id("W004"),
            )
        ]
    messages = []
    for path, error_id, what in (
        (SESSION_MIDDLEWARE, "E006", "the session"),
        (AUTH_MIDDLEWARE, "E007", "request.user"),
    ):
        other = _position(entries, path, path)
        if other is not None and ours < other:
            messages.append(
                Error(
                    f"{MIDDLEWARE_PATH} is before {path} in MIDDLEWARE, so it cannot use {what}.",
                    hint=f"Move {MIDDLEWARE_PATH} below {path}.",
                    id=_check_id(error_id),
                )
            )
    return messages


# -- Migrations --------------------------------------------------------------


def _inside_migrate():
    """Whether Django's ``migrate`` command is the caller: it runs the checks
    right before applying the very migrations W005 would warn about."""
    from django.core.management.commands.migrate import Command as Migrate

    frame = inspect.currentframe()
    while frame is not None:
        if isinstance(frame.f_locals.get("self"), Migrate):
            return True
        frame = frame.f_back
    return False


@_check(Tags.database, TAG)
def check_migrations(app_configs=None, databases=None, **kwargs):
    """Warn about unapplied dengage_django migrations on the checked databases.

    Runs only when databases are checked (``check --database``, ``migrate``,
    the test runner). An unreachable database is skipped quietly.
    """
    if not databases or _skip(app_configs) or _inside_migrate():
        return []
    models = list(apps.get_app_config(APP_LABEL).get_models())
    messages = []
    for alias in databases:
        if not any(router.allow_migrate_model(alias, model) for model in models):
            continue
        try:
            loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
        except (DatabaseError, ImproperlyConfigured):
            continue
        # Every migration of the app, not just the leaves: a missing earlier
        # one (inconsistent history) is reported too.
        pending = sorted(
            name
            for app_label, name in loader.graph.nodes
            if app_label == APP_LABEL and (app_label, name) not in loader.applied_migrations
        )
        if pending:
            messages.append(
                Warning(
                    f"Database {alias!r} has {len(pending)} unapplied dengage_django "
                    "migration(s): events cannot be stored there.",
                    hint=f"Run: manage.py migrate dengage_django --database {alias}",
                    id=_check_id("W005"),
                )
            )
    return messages


# -- Types and values --------------------------------------------------------


def _wrong_type(name, expected, value):
    return Error(
        f"{PREFIX}{name} must be {expected}, not {type(value).__name__}.",
        hint="See the settings reference (docs/settings.rst).",
        id=_check_id("E008"),
    )


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _of_type(expected_types, expected, optional=False):
    def validate(name, value):
        if optional and value is None:
            return []
        if isinstance(value, expected_types):
            return []
        return [_wrong_type(name, expected, value)]

    return validate


_string = _of_type(str, "a str")
_optional_string = _of_type(str, "a str or None", optional=True)
_boolean = _of_type(bool, "a bool")
_optional_boolean = _of_type(bool, "a bool or None", optional=True)


def _number(integer=False, positive=True, optional=False):
    """A number (``int`` only if ``integer``), above 0 or at least 0."""
    kind = "an int" if integer else "a number"
    expected = f"{kind} or None" if optional else kind

    def validate(name, value):
        if optional and value is None:
            return []
        if integer:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = _is_number(value)
        if not ok:
            return [_wrong_type(name, expected, value)]
        finite = isinstance(value, int) or math.isfinite(value)
        in_range = finite and (value > 0 if positive else value >= 0)
        if in_range:
            return []
        bound = "greater than 0" if positive else "0 or more"
        return [
            Error(
                f"{PREFIX}{name} must be a finite number {bound}, not {value!r}.",
                hint="See the settings reference (docs/settings.rst).",
                id=_check_id("E011"),
            )
        ]

    return validate


def _bad_patterns(name, patterns):
    """E009 for each pattern in ``patterns`` that does not compile."""
    messages = []
    for index, pattern in enumerate(patterns):
        problem = regex_problem(pattern)
        if problem:
            messages.append(
                Error(
                    f"{name}[{index}] is not a valid regular expression: {problem}.",
                    hint="Fix the pattern; it is used with Python's re module.",
                    id=_check_id("E009"),
                )
            )
    return messages


def _pattern_list(optional=False):
    expected = "a list or tuple of str" + (" or None" if optional else "")

    def validate(name, value):
        if optional and value is None:
            return []
        if not isinstance(value, (list, tuple)):
            return [_wrong_type(name, expected, value)]
        wrong = [item for item in value if not isinstance(item, str)]
        if wrong:
            return [_wrong_type(name, expected + " (with only str items)", wrong[0])]
        return _bad_patterns(PREFIX + name, value)

    return validate


def _app_user_agents(name, value):
    expected = 'a dict mapping "IOS"/"ANDROID" to lists of str'
    if not isinstance(value, dict):
        return [_wrong_type(name, expected, value)]
    messages = []
    unknown = sorted(str(key) for key in value if key not in ("IOS", "ANDROID"))
    if unknown:
        messages.append(
            Error(
                f"{PREFIX}{name} has keys other than 'IOS' and 'ANDROID': "
                f"{', '.join(repr(key)[:40] for key in unknown)}.",
                hint='Use {"IOS": [regex, ...], "ANDROID": [regex, ...]}.',
                id=_check_id("E014"),
            )
        )
    for key in ("IOS", "ANDROID"):
        if key not in value:
            continue
        patterns = value[key]
        if not isinstance(patterns, (list, tuple)) or not all(
            isinstance(item, str) for item in patterns
        ):
            messages.append(_wrong_type(f"{name}[{key!r}]", "a list or tuple of str", patterns))
            continue
        messages.extend(_bad_patterns(f"{PREFIX}{name}[{key!r}]", patterns))
    return messages


def _callable_or_path(name, value):
    if value is None or callable(value):
        return []
    if not isinstance(value, str):
        return [_wrong_type(name, "None, a callable or a dotted path", value)]
    try:
        target = import_string(value)
    except ImportError as exc:
        return [
            Error(
                f"{PREFIX}{name} names {value!r}, which cannot be imported ({type(exc).__name__}).",
                hint="Give the full dotted path of a function, e.g. 'myshop.dengage.consent'.",
                id=_check_id("E010"),
            )
        ]
    if not callable(target):
        return [
            Error(
                f"{PREFIX}{name} names {value!r}, which is not callable.",
                hint="Give the full dotted path of a function, e.g. 'myshop.dengage.consent'.",
                id=_check_id("E010"),
            )
        ]
    return []


def _id_source(name, value):
    if not isinstance(value, str):
        return [_wrong_type(name, "a str", value)]
    if value in ("dengage", "local"):
        return []
    return [
        Error(
            f'{PREFIX}{name} must be "dengage" or "local".',
            hint='"dengage" fetches new ids from /get/key; "local" makes them locally.',
            id=_check_id("E012"),
        )
    ]


def _page_categories(name, value):
    expected = 'a dict mapping URL names to "Category" or ["Category", "subCategory"]'
    if not isinstance(value, dict):
        return [_wrong_type(name, expected, value)]
    for key, category in value.items():
        fields = [category] if isinstance(category, str) else category
        if (
            not isinstance(key, str)
            or not key
            or not isinstance(fields, (list, tuple))
            or not 1 <= len(fields) <= 2
            or not all(isinstance(field, str) and field.strip() for field in fields)
        ):
            return [
                Error(
                    f"{PREFIX}{name}[{str(key)[:60]!r}] is {type(category).__name__} "
                    f"{str(category)[:60]!r}: it must be a URL name mapped to a category.",
                    hint='e.g. {"shop:product": "Product Page", '
                    '"shop:category": ["Category Page", "Shoes"], "checkout:*": "Checkout Page"}',
                    id=_check_id("E016"),
                )
            ]
    return []


#: Validator kind (``conf.SETTINGS``' ``check`` column) -> validator(name,
#: value) -> messages.
VALIDATOR_KINDS = {
    "str": _string,
    "str?": _optional_string,
    "bool": _boolean,
    "bool?": _optional_boolean,
    "int": _number(integer=True),
    "int?": _number(integer=True, optional=True),
    "number": _number(),
    "number>=0": _number(positive=False),
    "patterns": _pattern_list(),
    "patterns?": _pattern_list(optional=True),
    "callable": _callable_or_path,
    "id_source": _id_source,
    "app_user_agents": _app_user_agents,
    "page_categories": _page_categories,
}
#: Setting name (without ``DENGAGE_``) -> its validator, from ``conf.SETTINGS``.
VALIDATORS = {setting.name: VALIDATOR_KINDS[setting.check] for setting in SETTINGS}


@_check(TAG)
def check_setting_values(app_configs=None, **kwargs):
    """Each ``DENGAGE_*`` setting the project sets has its documented type."""
    if _skip(app_configs):
        return []
    messages = []
    for name, validate in VALIDATORS.items():
        if dengage_settings.is_set(name):
            messages.extend(validate(name, dengage_settings.raw(name)))
    return messages


@_check(TAG)
def check_setting_combinations(app_configs=None, **kwargs):
    if _skip(app_configs):
        return []
    messages = []
    values = {
        name: getattr(dengage_settings, name)
        for name in (
            "BATCH_MAX_BYTES",
            "MAX_EVENT_BYTES",
            "LEASE_SECONDS",
            "CONNECT_TIMEOUT",
            "TIMEOUT",
        )
    }
    if not all(_is_number(value) for value in values.values()):
        return messages  # check_setting_values reports these.
    if values["BATCH_MAX_BYTES"] < values["MAX_EVENT_BYTES"]:
        messages.append(
            Error(
                f"{PREFIX}BATCH_MAX_BYTES ({values['BATCH_MAX_BYTES']}) is smaller than "
                f"{PREFIX}MAX_EVENT_BYTES ({values['MAX_EVENT_BYTES']}): an event of the "
                "largest allowed size could never be sent.",
                hint="Raise DENGAGE_BATCH_MAX_BYTES or lower DENGAGE_MAX_EVENT_BYTES.",
                id=_check_id("E013"),
            )
        )
    request_time = values["CONNECT_TIMEOUT"] + values["TIMEOUT"]
    if values["LEASE_SECONDS"] <= request_time:
        messages.append(
            Warning(
                f"{PREFIX}LEASE_SECONDS ({values['LEASE_SECONDS']}) is not larger than "
                f"{PREFIX}CONNECT_TIMEOUT + {PREFIX}TIMEOUT ({request_time:g}): a lease can "
                "expire during one request and another worker send the same events again.",
                hint="Make DENGAGE_LEASE_SECONDS a good deal larger than the two timeouts.",
                id=_check_id("W006"),
            )
        )
    return messages


#: Settings that say a site is served over HTTPS only.
HTTPS_ONLY_SETTINGS = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")


@_check(TAG)
def check_cookie_security(app_configs=None, **kwargs):
    """W007: an HTTPS-only site whose id cookies would go out without Secure.

    With ``DENGAGE_COOKIE_SECURE = None`` the cookies follow
    ``request.is_secure()``, which behind a TLS-terminating proxy is only
    true with ``SECURE_PROXY_SSL_HEADER`` (or ``SECURE_SSL_REDIRECT``, which
    would loop without it).
    """
    if _skip(app_configs):
        return []
    https_only = [name for name in HTTPS_ONLY_SETTINGS if getattr(settings, name, False)]
    if not https_only:
        return []
    secure = dengage_settings.COOKIE_SECURE
    follows_request = getattr(settings, "SECURE_PROXY_SSL_HEADER", None) or getattr(
        settings, "SECURE_SSL_REDIRECT", False
    )
    if secure is True or (secure is None and follows_request):
        return []
    why = (
        f"{PREFIX}COOKIE_SECURE is False"
        if secure is False
        else "request.is_secure() is false behind a TLS proxy without SECURE_PROXY_SSL_HEADER"
    )
    return [
        Warning(
            f"The site is HTTPS-only ({', '.join(https_only)}) but the Dengage id cookies "
            f"would not be Secure: {why}.",
            hint="Set SECURE_PROXY_SSL_HEADER for your proxy, or DENGAGE_COOKIE_SECURE = True.",
            id=_check_id("W007"),
        )
    ]


#: The settings whose source ``check --deploy`` reports.
SENDING_SETTINGS = ("API_KEY", "DATA_CENTER_URL", "ORIGIN")


@_check(TAG, deploy=True)
def check_setting_sources(app_configs=None, **kwargs):
    """I001 (``check --deploy``): where each of the three sending settings
    comes from (settings, environment or default), never its value."""
    if _skip(app_configs):
        return []
    sources = {name: dengage_settings.source(name) for name in SENDING_SETTINGS}
    text = ", ".join(f"{PREFIX}{name} from {source}" for name, source in sources.items())
    hint = None
    if FROM_ENVIRONMENT in sources.values():
        hint = "Environment values are read with django-environ (DENGAGE_ENV_FILE: a .env file)."
    return [Info(f"dengage-django settings: {text}.", hint=hint, id=_check_id("I001"))]


@_check(TAG)
def check_flood_cache(app_configs=None, **kwargs):
    """W009: the flood guard's cache exists (it lets everyone in when it fails)."""
    if _skip(app_configs) or dengage_settings.NEW_VISITORS_PER_MINUTE is None:
        return []
    alias = dengage_settings.FLOOD_CACHE
    if not isinstance(alias, str) or alias in settings.CACHES:
        return []  # a wrong type is check_setting_values' to report
    return [
        Warning(
            f"{PREFIX}FLOOD_CACHE names no cache of CACHES: the flood guard counts nothing "
            "and every client may mint new visitors.",
            hint="Name an alias of CACHES (one shared by every process: Redis, Memcached, "
            "the database), or set DENGAGE_NEW_VISITORS_PER_MINUTE = None.",
            id=_check_id("W009"),
        )
    ]


# -- Claiming on the outbox's database ---------------------------------------


@_check(Tags.database, TAG)
def check_claim_locking(app_configs=None, databases=None, **kwargs):
    """W010: the outbox's database locks rows but cannot skip locked ones
    (``SELECT ... FOR UPDATE SKIP LOCKED``: MariaDB before 10.6, MySQL before
    8.0.1). Claims still never take a row twice (the claim re-checks each
    row as it updates it), but workers claiming at once wait for each other
    and come back with less. Runs only when databases are checked; an
    unreachable database is skipped quietly.
    """
    if not databases or _skip(app_configs):
        return []
    alias = router.db_for_write(apps.get_model(APP_LABEL, "OutboxEvent"))
    if alias not in databases:
        return []
    connection = connections[alias]
    try:
        features = connection.features
        if not features.has_select_for_update or features.has_select_for_update_skip_locked:
            return []
        version = ".".join(str(part) for part in connection.get_database_version())
    except (DatabaseError, ImproperlyConfigured):
        return []
    return [
        Warning(
            f"Database {alias!r} ({connection.display_name} {version}) has no SELECT ... FOR "
            "UPDATE SKIP LOCKED: several send_dengage_outbox workers claiming at once wait for "
            "each other and claim less (no event is sent twice).",
            hint=(
                "Run one sending worker, or upgrade: MariaDB 10.6+, MySQL 8.0.1+ (PostgreSQL: "
                "every version Django supports). SQLite has one writer: run one worker."
            ),
            id=_check_id("W010"),
        )
    ]
