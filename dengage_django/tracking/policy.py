"""Which requests are tracked, and which responses are page views.

A request is *tracked* (its ``request.dengage`` records the visitor's
events) unless dengage-django is disabled, its path is excluded (the admin
and integrations' staff areas, static and media, plus
``DENGAGE_EXCLUDED_PATHS``, after any language
prefix), it comes from a bot (and ``DENGAGE_TRACK_BOTS`` is off), it is not
a browser's page visit (no cookies and not a GET asking for HTML: a webhook,
an API client), or the visitor has not consented (``DENGAGE_CONSENT``, and
``Sec-GPC: 1`` when ``DENGAGE_RESPECT_GPC``), or it would mint a new
visitor for a client address that already had
``DENGAGE_NEW_VISITORS_PER_MINUTE`` this minute (the flood guard,
:func:`is_flooding`: a scraper without cookies is treated as a bot). Only
tracked requests ever read or mint visitor ids. Events about an explicit
``user`` do not depend on this (see :mod:`.subject`).

A tracked request gets the automatic PAGE_VIEW only when it is a GET that
is not a prefetch or prerender, answered 2xx (or 404, when a category is
set for it) with an HTML content type.
"""

import ipaddress
import logging
import re
import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language_from_path

from ..conf import dengage_settings
from .categories import not_found_category
from .device import is_bot, is_browser
from .ids import is_valid_id

logger = logging.getLogger(__name__)

PREFETCH_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
PREFETCH_VALUES = ("prefetch", "prerender", "preview")


def _without_language(path):
    """``path`` without an ``i18n_patterns`` language prefix (``/tr/admin/``
    -> ``/admin/``); unchanged when it has none."""
    language = get_language_from_path(path) if settings.USE_I18N else None
    if language and path.startswith(f"/{language}/"):
        return path[len(language) + 1 :]
    return path


#: URL names of staff areas, excluded like the admin: integrations add
#: theirs (:func:`register_staff_area`; Oscar's dashboard).
STAFF_AREAS = ["admin:index"]


def register_staff_area(url_name):
    """Exclude the path of URL ``url_name`` (an area's index, a prefix of
    its pages) as the admin is: an integration's app calls this in
    ``ready()``; a name the URLconf does not have excludes nothing."""
    if url_name not in STAFF_AREAS:
        STAFF_AREAS.append(url_name)
    _patterns.clear()


def default_excluded_paths():
    """The static and media URL prefixes, and those of the admin and the
    other staff areas (without language prefix)."""
    prefixes = []
    for url in (getattr(settings, "STATIC_URL", None), getattr(settings, "MEDIA_URL", None)):
        if url and url.startswith("/") and url != "/":
            prefixes.append(url)
        elif url and not url.startswith(("/", "http:", "https:")):
            prefixes.append("/" + url)
    for name in STAFF_AREAS:
        try:
            prefixes.append(_without_language(reverse(name)))
        except NoReverseMatch:
            pass
    return [re.escape(prefix) for prefix in prefixes]


@lru_cache(maxsize=16)
def _compiled(patterns):
    return [re.compile(pattern) for pattern in patterns]


#: Compiled patterns by (URLconf, script prefix): building them costs a
#: ``reverse()`` per request otherwise. Emptied when a setting they are
#: made of changes (:data:`PATTERN_SETTINGS`).
_patterns: dict[tuple, list] = {}

#: The settings the excluded patterns depend on. Other changes keep them:
#: a test suite's ``override_settings`` would otherwise have every next
#: request build them again (a ``reverse()``, on a cold URL resolver).
PATTERN_SETTINGS = frozenset(
    {
        "STATIC_URL",
        "MEDIA_URL",
        "ROOT_URLCONF",
        "INSTALLED_APPS",
        "USE_I18N",
        "LANGUAGES",
        "LANGUAGE_CODE",
        "FORCE_SCRIPT_NAME",
        "DENGAGE_EXCLUDED_PATHS",
    }
)


def _forget_patterns(setting=None, **kwargs):
    if setting is None or setting in PATTERN_SETTINGS:
        _patterns.clear()


setting_changed.connect(_forget_patterns, dispatch_uid="dengage_django.policy.patterns")


def excluded_patterns():
    """The defaults, then ``DENGAGE_EXCLUDED_PATHS`` (which adds to them).

    Kept per URLconf (a request's own ``request.urlconf`` included) and
    script prefix until a setting changes.
    """
    key = (get_urlconf(), get_script_prefix())
    try:
        return _patterns[key]
    except KeyError:
        extra = dengage_settings.EXCLUDED_PATHS or ()
        if len(_patterns) >= 64:  # URLconfs made per request: do not grow
            _patterns.clear()
        patterns = _patterns[key] = _compiled((*default_excluded_paths(), *extra))
        return patterns


def is_excluded(path):
    patterns = excluded_patterns()
    if any(pattern.match(path) for pattern in patterns):
        return True
    bare = _without_language(path)
    return bare != path and any(pattern.match(bare) for pattern in patterns)


def has_consent(request):
    if dengage_settings.RESPECT_GPC and request.META.get("HTTP_SEC_GPC", "").strip() == "1":
        return False
    consent = dengage_settings.callable("CONSENT")
    if consent is None:
        return True
    return bool(consent(request))


#: Why a request is not tracked (:func:`untracked_reason`).
DISABLED, EXCLUDED, BOT, NOT_BROWSER, NO_CONSENT, FLOOD = (
    "disabled",
    "excluded",
    "bot",
    "not a browser",
    "no consent",
    "flood",
)
#: Accept values a browser sends when it navigates to a page.
PAGE_TYPES = ("text/html", "application/xhtml+xml", "*/*")


def is_browser_visit(request):
    """Whether ``request`` may come from a browser visiting the shop.

    Its User-Agent must be a browser's (or the shop's app's, see
    :func:`.device.is_browser`). Then a request carrying cookies does (a
    visitor's later requests, a basket POST); one without cookies only when
    it is a GET that accepts HTML (the first page of a visit). A webhook or
    an API client (a POST without cookies, a GET asking for JSON, a
    ``Stripe/1.0`` User-Agent) does not, and never gets visitor ids.
    """
    if not is_browser(request.META.get("HTTP_USER_AGENT")):
        return False
    if request.COOKIES:
        return True
    if request.method not in ("GET", "HEAD"):
        return False
    accept = request.META.get("HTTP_ACCEPT", "")
    return not accept or any(kind in accept for kind in PAGE_TYPES)


def untracked_reason(request):
    """``None`` when the request is tracked, else why not.

    The reason matters to receivers: an excluded path (the admin) is the
    shop's own staff at work, whose changes to users are still reported as
    server-side events; a bot or a visitor without consent gets nothing.
    """
    if not dengage_settings.ENABLED:
        return DISABLED
    if is_excluded(request.path_info):
        return EXCLUDED
    if not dengage_settings.TRACK_BOTS and is_bot(request.META.get("HTTP_USER_AGENT")):
        return BOT
    if not is_browser_visit(request):
        return NOT_BROWSER
    if not has_consent(request):
        return NO_CONSENT
    if is_flooding(request):
        return FLOOD
    return None


# -- The flood guard -----------------------------------------------------------

#: The guard counts new visitors per client address in windows of this many
#: seconds, under cache keys starting with :data:`FLOOD_KEY_PREFIX`.
FLOOD_WINDOW = 60
FLOOD_KEY_PREFIX = "dengage:new-visitors:"
#: An IPv6 client is counted per /64 network: one host usually holds a
#: whole /64 and can pick a new address for every request.
IPV6_PREFIX = 64
#: The request attribute that keeps the guard's decision (counted once).
_DECIDED = "_dengage_flooding"
_cache_failure_logged = False


def _meta_name(header):
    """``request.META``'s key for ``header`` (``"X-Real-IP"`` and
    ``"HTTP_X_REAL_IP"`` both give ``"HTTP_X_REAL_IP"``)."""
    name = header.strip().upper().replace("-", "_")
    if name == "REMOTE_ADDR" or name.startswith("HTTP_"):
        return name
    return "HTTP_" + name


def _parse_address(text):
    """The IP address in ``text`` (``1.2.3.4``, ``1.2.3.4:5678``,
    ``[2001:db8::1]:443``, ``::ffff:1.2.3.4``), or ``None``."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request):
    """The client's address as the flood guard counts it, or ``None``.

    From ``DENGAGE_CLIENT_ADDRESS_HEADER`` when set and present (the *last*
    address of a list such as ``X-Forwarded-For``: the one your own proxy
    appended, which a client cannot forge; the addresses before it are the
    client's to make up), else ``REMOTE_ADDR``. An IPv6 address counts as
    its /64 network. ``None`` (not counted) for an address that is not
    public: loopback, private and link-local addresses are your own proxies,
    load balancers, test clients and ``runserver``, never one scraper.
    """
    raw = None
    header = dengage_settings.CLIENT_ADDRESS_HEADER
    if header:
        value = request.META.get(_meta_name(header), "")
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        raw = entries[-1] if entries else None
    if raw is None:
        raw = request.META.get("REMOTE_ADDR") or ""
    address = _parse_address(raw)
    if address is None or not address.is_global:
        return None
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def _new_visitor_limit():
    """``DENGAGE_NEW_VISITORS_PER_MINUTE``, or ``None`` when the guard is off."""
    limit = dengage_settings.NEW_VISITORS_PER_MINUTE
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        return None  # None or 0: off (a wrong type is the system check's to report)
    return limit


def _count_new_visitor(address):
    """Count one new visitor of ``address`` in this window; the count, or
    ``None`` when the cache failed (logged once per process)."""
    global _cache_failure_logged
    window = int(time.time() // FLOOD_WINDOW)
    key = f"{FLOOD_KEY_PREFIX}{window}:{address}"
    try:
        cache = caches[dengage_settings.FLOOD_CACHE]
        if cache.add(key, 1, timeout=2 * FLOOD_WINDOW):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=2 * FLOOD_WINDOW)
            return 1
    except Exception:
        if not _cache_failure_logged:
            _cache_failure_logged = True
            logger.warning(
                "the flood guard cannot use cache %r: new visitors are not limited (logged once)",
                dengage_settings.FLOOD_CACHE,
                exc_info=True,
            )
        return None


def is_flooding(request):
    """Whether ``request`` would mint one new visitor too many for its
    client address this minute (the flood guard).

    Only a request without a valid visitor cookie is counted (a returning
    visitor never is), once: the decision is kept on the request. With
    ``DENGAGE_NEW_VISITORS_PER_MINUTE`` new visitors per address and
    minute (``None``: no guard), counted in the cache
    ``DENGAGE_FLOOD_CACHE`` (a cache shared by every process of the site:
    a per-process cache counts per process). When the cache fails, the
    guard lets everyone in.
    """
    decided = getattr(request, _DECIDED, None)
    if decided is not None:
        return decided
    flooding = False
    limit = _new_visitor_limit()
    if limit is not None and not is_valid_id(
        request.COOKIES.get(dengage_settings.USER_COOKIE_NAME)
    ):
        address = client_address(request)
        count = _count_new_visitor(address) if address is not None else None
        flooding = count is not None and count > limit
        if count == limit + 1:
            logger.warning(
                "more than %d new visitors this minute from %s: its requests without "
                "cookies are treated as bots until the minute ends (if this is a proxy "
                "of yours, set DENGAGE_CLIENT_ADDRESS_HEADER)",
                limit,
                address,
            )
    setattr(request, _DECIDED, flooding)
    return flooding


def is_prefetch(request):
    meta = request.META
    return any(
        value in meta.get(header, "").lower()
        for header in PREFETCH_HEADERS
        for value in PREFETCH_VALUES
    )


def asks_for_a_document(request):
    """Whether the browser asked for a page (not an image, a script, a
    ``favicon.ico``): ``Sec-Fetch-Dest`` where it says, else an ``Accept``
    naming HTML."""
    destination = request.META.get("HTTP_SEC_FETCH_DEST", "").strip().lower()
    if destination:
        return destination in ("document", "iframe", "frame")
    return "text/html" in request.META.get("HTTP_ACCEPT", "").lower()


def is_page_view(request, response):
    """Whether this request/response pair is a page a visitor saw (a page
    answered 404 only when ``DENGAGE_PAGE_CATEGORIES`` names its category,
    see :mod:`.categories`, and the browser asked for a page: a missing
    image or icon is answered with HTML too)."""
    if request.method != "GET":
        return False
    status = response.status_code
    if status == 404:
        if not_found_category() is None or not asks_for_a_document(request):
            return False
    elif not 200 <= status < 300:
        return False
    content_type = response.get("Content-Type", "")
    if not content_type.lower().startswith(("text/html", "application/xhtml+xml")):
        return False
    return not is_prefetch(request)
