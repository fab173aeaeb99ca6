"""Which requests are tracked, and which responses are page views.

A request is *tracked* (its ``request.dengage`` records events) unless
dengage-django is disabled, its path is excluded, it comes from a bot (and
``DENGAGE_TRACK_BOTS`` is off), or the visitor has not consented
(``DENGAGE_CONSENT``, and ``Sec-GPC: 1`` when ``DENGAGE_RESPECT_GPC``).

A tracked request gets the automatic PAGE_VIEW only when it is a GET that
is not a prefetch or prerender, answered 2xx with an HTML content type.
"""

import re
from functools import lru_cache

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .conf import dengage_settings
from .device import is_bot

PREFETCH_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
PREFETCH_VALUES = ("prefetch", "prerender", "preview")


def default_excluded_paths():
    """The admin, static and media URL prefixes."""
    prefixes = []
    for url in (getattr(settings, "STATIC_URL", None), getattr(settings, "MEDIA_URL", None)):
        if url and url.startswith("/") and url != "/":
            prefixes.append(url)
        elif url and not url.startswith(("/", "http:", "https:")):
            prefixes.append("/" + url)
    try:
        prefixes.append(reverse("admin:index"))
    except NoReverseMatch:
        pass
    return [re.escape(prefix) for prefix in prefixes]


@lru_cache(maxsize=16)
def _compiled(patterns):
    return [re.compile(pattern) for pattern in patterns]


def excluded_patterns():
    patterns = dengage_settings.EXCLUDED_PATHS
    if patterns is None:
        patterns = default_excluded_paths()
    return _compiled(tuple(patterns))


def is_excluded(path):
    return any(pattern.match(path) for pattern in excluded_patterns())


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
DISABLED, EXCLUDED, BOT, NO_CONSENT = "disabled", "excluded", "bot", "no consent"


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
    if not has_consent(request):
        return NO_CONSENT
    return None


def should_track(request):
    """Whether ``request.dengage`` records events for this request."""
    return untracked_reason(request) is None


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
