"""Which requests are tracked, and which responses are page views.

A request is *tracked* (its ``request.dengage`` records the visitor's
events) unless dengage-django is disabled, its path is excluded (the admin,
static and media, plus ``DENGAGE_EXCLUDED_PATHS``, after any language
prefix), it comes from a bot (and ``DENGAGE_TRACK_BOTS`` is off), it is not
a browser's page visit (no cookies and not a GET asking for HTML: a webhook,
an API client), or the visitor has not consented (``DENGAGE_CONSENT``, and
``Sec-GPC: 1`` when ``DENGAGE_RESPECT_GPC``). Only tracked requests ever
read or mint visitor ids. Events about an explicit ``user`` do not depend on
this (see :mod:`.subject`).

A tracked request gets the automatic PAGE_VIEW only when it is a GET that
is not a prefetch or prerender, answered 2xx with an HTML content type.
"""

import re
from functools import lru_cache

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from django.utils.translation import get_language_from_path

from ..conf import dengage_settings
from .device import is_bot, is_browser

PREFETCH_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
PREFETCH_VALUES = ("prefetch", "prerender", "preview")


def _without_language(path):
    """``path`` without an ``i18n_patterns`` language prefix (``/tr/admin/``
    -> ``/admin/``); unchanged when it has none."""
    language = get_language_from_path(path) if settings.USE_I18N else None
    if language and path.startswith(f"/{language}/"):
        return path[len(language) + 1 :]
    return path


def default_excluded_paths():
    """The admin, static and media URL prefixes (without language prefix)."""
    prefixes = []
    for url in (getattr(settings, "STATIC_URL", None), getattr(settings, "MEDIA_URL", None)):
        if url and url.startswith("/") and url != "/":
            prefixes.append(url)
        elif url and not url.startswith(("/", "http:", "https:")):
            prefixes.append("/" + url)
    try:
        prefixes.append(_without_language(reverse("admin:index")))
    except NoReverseMatch:
        pass
    return [re.escape(prefix) for prefix in prefixes]


@lru_cache(maxsize=16)
def _compiled(patterns):
    return [re.compile(pattern) for pattern in patterns]


def excluded_patterns():
    """The defaults, then ``DENGAGE_EXCLUDED_PATHS`` (which adds to them)."""
    extra = dengage_settings.EXCLUDED_PATHS or ()
    return _compiled((*default_excluded_paths(), *extra))


def is_excluded(path):
    patterns = excluded_patterns()
    if any(pattern.match(path) for pattern in patterns):
        return True
    bare = _without_language(path)
    return bare != path and any(pattern.match(bare) for pattern in patterns)


def has_consent(request):
    if dengage_settings.RESPECT_GPC and request.META.get("HTTP_SEC_GPC", "").strip() == "1":
        return False
    consent = dengage_settings.CONSENT
    if consent is None:
        return True
    if isinstance(consent, str):
        consent = import_string(consent)
    return bool(consent(request))


#: Why a request is not tracked (:func:`untracked_reason`).
DISABLED, EXCLUDED, BOT, NOT_BROWSER, NO_CONSENT = (
    "disabled",
    "excluded",
    "bot",
    "not a browser",
    "no consent",
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
    return None


def is_prefetch(request):
    meta = request.META
    return any(
        value in meta.get(header, "").lower()
        for header in PREFETCH_HEADERS
        for value in PREFETCH_VALUES
    )


def is_page_view(request, response):
    """Whether this request/response pair is a page a visitor saw."""
    if request.method != "GET" or not 200 <= response.status_code < 300:
        return False
    content_type = response.get("Content-Type", "")
    if not content_type.lower().startswith(("text/html", "application/xhtml+xml")):
        return False
    return not is_prefetch(request)
