"""Classify a request's User-Agent for Dengage's ``device`` field; spot bots.

:func:`device_for` returns one of ``"PC"``, ``"MOBILE"``, ``"TABLET"``,
``"IOS"`` or ``"ANDROID"``; :func:`is_bot` says whether the User-Agent belongs
to a crawler, a monitor or a script rather than a person's browser. Neither
ever raises on a ``str`` or ``None`` (only on a malformed setting:
:class:`~dengage_django.exceptions.DengageConfigurationError`), and both look
only at the first :data:`MAX_USER_AGENT_CHARS` characters, stripped (a token
past that is not seen).

Device rules, first match wins
------------------------------
1. ``DENGAGE_APP_USER_AGENTS`` (``{"IOS": [regex, ...], "ANDROID": [...]}``):
   the shop's own native apps, matched with ``re.search`` as written, ``IOS``
   before ``ANDROID``. The web library never reports these two; only the
   apps' own traffic should.
2. Missing or blank User-Agent: ``PC``.
3. Tablets: ``iPad``, ``PlayBook``, ``Kindle``, ``Silk``, or a ``Tablet``
   token (except Windows' ``Tablet PC``, which desktop Internet Explorer
   sends on touch-capable PCs). Checked before phones because iPad and
   Silk User-Agents also carry ``Mobile``.
4. Phones: ``iPhone``, ``iPod``, ``Windows Phone``, ``Opera Mini``,
   ``BlackBerry``/``BB10``, Symbian, or a ``Mobi`` token (``Mobile``,
   ``Mobi/``, ``IEMobile``, ``Opera Mobi``) -- which covers Android phones.
5. ``Android`` without a ``Mobi`` token: ``TABLET`` (Android tablets drop it).
6. Anything else: ``PC``.

iPadOS caveat: since iPadOS 13, Safari (and every iPad browser using its
engine) asks for desktop sites by default and sends a Macintosh User-Agent
that no server can tell from a Mac's. Those iPads are reported as ``PC``;
only client-side script (touch points) could tell them apart.

Bots
----
:func:`is_bot` is true for a missing or blank User-Agent (every browser sends
one), for the named crawlers, previewers, headless browsers, monitors and
HTTP libraries in :data:`BOT_PATTERNS`, for the generic words ``bot``,
``crawler``/``crawl``, ``spider`` and ``slurp`` ending a word
(``Googlebot/2.1``, ``FooBot/1.0``, ``bot.html``; case-insensitive), and for
``DENGAGE_BOT_USER_AGENTS`` (regexes matched with ``re.search`` as written).

* The generic ``bot`` ignores lookalikes listed in :data:`BOT_LOOKALIKES`:
  the Cubot phone brand (``CUBOT_X30``, ``Cubot Note 20``) is a browser.
* Real users' apps that share a name with a crawler are left alone: the
  DuckDuckGo browser (only ``DuckDuckBot`` is a bot), Baidu's app
  ``baiduboxapp`` (only ``Baiduspider``), Facebook's in-app browser
  (only ``facebookexternalhit``/``Facebot``).
* ``okhttp`` is deliberately not a bot: it is the HTTP stack of most
  Android apps, including the shop's own and in-app web views, so flagging
  it would drop real customers.

``DENGAGE_TRACK_BOTS`` (default ``False``) is not read here: callers that
record events check it and skip bot traffic unless it is true.

Caching
-------
The classifications that depend only on the User-Agent text are memoised
(``functools.lru_cache``, 2048 entries). The settings patterns are applied
outside that cache: they are compiled once (in a small cache keyed by the
patterns themselves) and kept until Django's ``setting_changed`` signal
reports a change to either setting, which ``override_settings`` and
pytest-django's ``settings`` fixture send. Reading the settings on every call
would cost more than the cached classification itself. Assigning to
``django.conf.settings`` directly, or mutating the configured lists in place,
sends no signal and is not noticed.
"""

import functools
import re
from collections.abc import Iterable

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import PREFIX, dengage_settings
from ..exceptions import DengageConfigurationError

__all__ = ["MAX_USER_AGENT_CHARS", "device_for", "is_bot"]

#: Only this many leading characters of a User-Agent are examined.
MAX_USER_AGENT_CHARS = 1024

#: The ``device`` values, in Dengage's spelling.
PC, MOBILE, TABLET, IOS, ANDROID = "PC", "MOBILE", "TABLET", "IOS", "ANDROID"

#: Keys of ``DENGAGE_APP_USER_AGENTS``, in the order they are tried.
APP_DEVICES = (IOS, ANDROID)

#: Browser device rules, tried in order. Patterns are case-sensitive and start
#: with a literal (no leading ``\\b``), which lets the regex engine skip ahead.
DEVICE_RULES = (
    (TABLET, ("iPad", "PlayBook", "Kindle", "Silk", r"Tablet(?! PC)")),
    (
        MOBILE,
        (
            "iPhone",
            "iPod",
            "Windows Phone",
            "Opera Mini",
            "BlackBerry",
            r"BB10\b",
            "Symbian",
            "Mobi",
        ),
    ),
    (TABLET, ("Android",)),
)

#: Named crawlers, previewers, headless browsers, monitors and HTTP
#: libraries. Matched against the lower-cased User-Agent (they are lower-cased
#: when compiled, so only literals, ``\\w`` and ``\\b`` may appear here).
BOT_PATTERNS = (
    # Search engines.
    "Googlebot",
    "bingbot",
    r"Yandex\w*/",
    "Baiduspider",
    "DuckDuckBot",
    "DuckDuckGo-Favicons-Bot",
    "Slurp",
    # Link previews and social networks.
    "facebookexternalhit",
    "Facebot",
    "Twitterbot",
    "LinkedInBot",
    # SEO tools and AI crawlers.
    "Applebot",
    "AhrefsBot",
    "SemrushBot",
    "MJ12bot",
    "PetalBot",
    "GPTBot",
    "ClaudeBot",
    "CCBot",
    "Bytespider",
    # Headless browsers, audits and uptime monitors.
    "HeadlessChrome",
    "PhantomJS",
    "Lighthouse",
    "Pingdom",
    "UptimeRobot",
    "StatusCake",
    # HTTP libraries and command-line tools (not okhttp: see the docstring).
    "curl/",
    "Wget/",
    "python-requests",
    "python-urllib",
    "aiohttp/",
    "httpx/",
    "Go-http-client",
    "Java/",
    "libwww-perl",
    "Scrapy",
)

#: Generic words that, ending a word, mark a bot.
BOT_WORDS = ("bot", "crawler", "crawl", "spider", "slurp")

#: Words ending in "bot" that real browsers send (phone brands).
BOT_LOOKALIKES = ("cubot",)


def _generic_bot_pattern():
    """A bot word not followed by a letter; ``bot`` not ending a lookalike."""
    not_lookalike = "".join(f"(?<!{re.escape(word)})" for word in BOT_LOOKALIKES)
    others = "|".join(re.escape(word) for word in BOT_WORDS if word != "bot")
    return rf"(?:bot{not_lookalike}|{others})(?![a-z])"


def _any_of(patterns):
    """One compiled alternation of ``patterns``."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


_DEVICE_RULES = tuple((device, _any_of(patterns)) for device, patterns in DEVICE_RULES)
_BOT_RE = _any_of((*(pattern.lower() for pattern in BOT_PATTERNS), _generic_bot_pattern()))


def device_for(user_agent: str | None) -> str:
    """Dengage's ``device`` value for a request's User-Agent header."""
    text = _clip(user_agent)
    for device, patterns in _app_patterns():
        if any(pattern.search(text) for pattern in patterns):
            return device
    return _browser_device(text)


#: How every browser's User-Agent begins (Chrome, Safari, Firefox, Edge and
#: Opera all send "Mozilla/5.0 ..."; old Opera sent "Opera/").
BROWSER_PREFIXES = ("Mozilla/", "Opera/")


def is_browser(user_agent: str | None) -> bool:
    """Whether the User-Agent is a browser's or one of the shop's own apps'
    (``DENGAGE_APP_USER_AGENTS``): not a webhook sender or an API client
    (``Stripe/1.0``, ``python-requests/2.32``, ``okhttp/4.12``)."""
    text = _clip(user_agent)
    if text.startswith(BROWSER_PREFIXES):
        return True
    return any(pattern.search(text) for _, patterns in _app_patterns() for pattern in patterns)


def is_bot(user_agent: str | None) -> bool:
    """Whether the User-Agent is a crawler, monitor or script (or missing)."""
    text = _clip(user_agent)
    if _known_bot(text):
        return True
    return any(pattern.search(text) for pattern in _extra_bot_patterns())


def _clip(user_agent):
    """The examined part of a User-Agent: its first characters, stripped."""
    if not user_agent:
        return ""
    return user_agent[:MAX_USER_AGENT_CHARS].strip()


@functools.lru_cache(maxsize=2048)
def _browser_device(text):
    """``PC``/``MOBILE``/``TABLET`` for a clipped User-Agent (settings-free)."""
    for device, pattern in _DEVICE_RULES:
        if pattern.search(text):
            return device
    return PC


@functools.lru_cache(maxsize=2048)
def _known_bot(text):
    """Whether a clipped User-Agent is empty or matches the built-in bot table."""
    return not text or _BOT_RE.search(text.lower()) is not None


#: Compiled settings patterns by setting name; emptied by ``setting_changed``.
_from_settings: dict[str, tuple] = {}


@receiver(setting_changed)
def _forget_settings(*, setting, **kwargs):
    if setting in (PREFIX + "APP_USER_AGENTS", PREFIX + "BOT_USER_AGENTS"):
        _from_settings.clear()


def _app_patterns():
    """``((device, compiled patterns), ...)`` for ``DENGAGE_APP_USER_AGENTS``."""
    try:
        return _from_settings["APP_USER_AGENTS"]
    except KeyError:
        patterns = _from_settings["APP_USER_AGENTS"] = _load_app_patterns()
        return patterns


def _extra_bot_patterns():
    """Compiled ``DENGAGE_BOT_USER_AGENTS``."""
    try:
        return _from_settings["BOT_USER_AGENTS"]
    except KeyError:
        patterns = _from_settings["BOT_USER_AGENTS"] = _load_extra_bot_patterns()
        return patterns


def _load_app_patterns():
    configured = dengage_settings.APP_USER_AGENTS or {}
    try:
        key = tuple((name, _pattern_tuple(patterns)) for name, patterns in configured.items())
    except (AttributeError, TypeError):
        raise DengageConfigurationError(
            "DENGAGE_APP_USER_AGENTS must map 'IOS'/'ANDROID' to lists of regexes"
        )
    return _compile_app_patterns(key)


def _load_extra_bot_patterns():
    try:
        key = _pattern_tuple(dengage_settings.BOT_USER_AGENTS)
    except TypeError:
        raise DengageConfigurationError("DENGAGE_BOT_USER_AGENTS must be a list of regexes")
    return _compile_patterns(key, "DENGAGE_BOT_USER_AGENTS")


def _pattern_tuple(patterns: str | Iterable[str] | None) -> tuple[str, ...]:
    """A hashable tuple of patterns; a lone string counts as one pattern."""
    if not patterns:
        return ()
    if isinstance(patterns, str):
        return (patterns,)
    return tuple(patterns)


@functools.lru_cache(maxsize=32)
def _compile_app_patterns(key):
    by_name = dict(key)
    unknown = sorted(str(name) for name in by_name if name not in APP_DEVICES)
    if unknown:
        raise DengageConfigurationError(
            f"DENGAGE_APP_USER_AGENTS keys must be 'IOS' or 'ANDROID', not {', '.join(unknown)}"
        )
    return tuple(
        (device, _compile_patterns(by_name[device], f"DENGAGE_APP_USER_AGENTS[{device!r}]"))
        for device in APP_DEVICES
        if by_name.get(device)
    )


def regex_problem(pattern):
    """Why ``pattern`` is not a usable regular expression, or ``None``
    (the system checks and the device rules share this)."""
    try:
        re.compile(pattern)
    except (re.error, TypeError) as error:
        return getattr(error, "msg", None) or str(error)
    return None


@functools.lru_cache(maxsize=32)
def _compile_patterns(patterns, setting):
    for pattern in patterns:
        problem = regex_problem(pattern)
        if problem:
            raise DengageConfigurationError(f"{setting}: bad regex {pattern!r}: {problem}")
    return tuple(re.compile(pattern) for pattern in patterns)
