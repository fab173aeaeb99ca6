"""Widget views: the visitor's browser tells, once per widget, that it was
seen (INTERACTION ``widget-view``), Dengage's attribution signal between
the impression (recorded when the server renders a widget) and the click
(recorded when a widget's link is followed).

A widget rendered by the server carries a token (:func:`view_token`,
``{% dengage_widget_view widget %}``), signed with Django's signing
(``SECRET_KEY``, :data:`SALT`): the campaign (instanceId, actionId), the
visitor's userId, the page it is on (the event's ``pageUrl``) and a random
part. A tiny script
(``{% dengage_widget_view_script %}``, inline, with the page's CSP nonce)
watches the elements carrying one with ``IntersectionObserver`` and, once
half of a widget is on screen, posts its token with
``navigator.sendBeacon`` to :func:`~.views.widget_view`
(``dengage:widget-view`` in ``dengage_django.urls``). The view records the
INTERACTION for the visitor whose cookies come with the beacon if the
token is theirs, unaltered, at most :data:`MAX_AGE` seconds old and not
used before (:func:`first_use`): nobody can forge attribution, replay a
token or spend someone else's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.cache import caches

from ..conf import dengage_settings

SALT = "dengage_django.widget-view"
#: How long a rendered widget's token may be used (seconds): a day.
MAX_AGE = 24 * 3600
#: The longest token the view reads (bytes): a page URL of the longest
#: string an event takes, encoded.
MAX_TOKEN = 8192
USED_KEY_PREFIX = "dengage:widget-view:"


@dataclass(frozen=True)
class View:
    """What a valid token names."""

    instance_id: str
    action_id: str
    nonce: str
    page_url: str


def view_token(user_id: str, widget: Any, page_url: str | None = None) -> str:
    """The signed token of ``widget`` shown to visitor ``user_id`` on
    ``page_url``."""
    claims = {
        "i": str(widget.instance_id),
        "a": str(widget.action_id or ""),
        "u": user_id,
        "n": secrets.token_urlsafe(9),
        "p": page_url or "",
    }
    return signing.dumps(claims, salt=SALT)


def read_token(token: str, user_id: str) -> View | str:
    """The widget view ``token`` names for visitor ``user_id``; or why it
    is refused (never raises)."""
    try:
        claims = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        return "the token is too old"
    except (signing.BadSignature, ValueError, UnicodeError):
        return "the token is not one this site signed"
    if not isinstance(claims, dict) or not all(
        isinstance(claims.get(key), str) for key in ("i", "a", "u", "n", "p")
    ):
        return "the token is not one this site signed"
    if not user_id or claims["u"] != user_id:
        return "the token is another visitor's"
    return View(claims["i"], claims["a"], claims["n"], claims["p"])


def first_use(view: View) -> bool:
    """Whether this is the first time ``view``'s token is used (remembered
    for :data:`MAX_AGE` in the cache named by ``DENGAGE_FLOOD_CACHE``,
    which should be shared by the processes)."""
    cache = caches[dengage_settings.FLOOD_CACHE]
    return bool(cache.add(USED_KEY_PREFIX + view.nonce, 1, MAX_AGE))


#: The script: one beacon per element carrying a token, once half of it
#: has been on screen; nothing where the browser lacks what it needs.
SCRIPT = """(function () {
  var script = document.currentScript, url = script && script.getAttribute("data-url");
  if (!url || !window.IntersectionObserver || !navigator.sendBeacon) return;
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      observer.unobserve(entry.target);
      navigator.sendBeacon(url, entry.target.getAttribute("data-dengage-view"));
    });
  }, {threshold: 0.5});
  function watch() {
    document.querySelectorAll("[data-dengage-view]").forEach(function (element) {
      observer.observe(element);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();"""
