"""A page's PAGE_VIEW category from its URL's name (``DENGAGE_PAGE_CATEGORIES``).

``{"shop:product": "Product Page", "shop:category": ["Category Page",
"Shoes"], "checkout:*": "Checkout Page", "*": "Other Page"}``: the request's
``resolver_match.view_name`` (``"namespace:name"``) is looked up, then its
namespaces from the innermost (``"checkout:*"``), then ``"*"``. A category
the view or its template set (``request.dengage.page(...)``, ``{%
dengage_page %}``) wins, with its subCategory; one set alone keeps the
setting's category. ``"404"`` is the category of pages answered 404 (a URL
that resolved or not): with it set, such a page is a PAGE_VIEW (without it,
none is).
"""

from __future__ import annotations

from typing import Any

from ..conf import dengage_settings

#: The key of the category of pages answered 404: with it, a GET answered
#: 404 with HTML is a PAGE_VIEW too (without, it is none).
NOT_FOUND = "404"

#: Categories integrations give the URLs of the apps they integrate
#: (:func:`register_defaults`); the shop's setting overrides them, key by key.
DEFAULTS: dict[str, Any] = {}


def register_defaults(categories: dict[str, Any]) -> None:
    """Add ``categories`` (``DENGAGE_PAGE_CATEGORIES``' shape) under the
    shop's own setting: an integration's app calls this in ``ready()``."""
    DEFAULTS.update(categories)


def _mapping() -> dict[str, Any]:
    setting = dengage_settings.PAGE_CATEGORIES
    return {**DEFAULTS, **setting} if isinstance(setting, dict) else DEFAULTS


def _fields(found: Any) -> tuple[str | None, str | None] | None:
    if isinstance(found, str):
        return found, None
    if isinstance(found, (list, tuple)) and 1 <= len(found) <= 2:
        return found[0], found[1] if len(found) == 2 else None
    return None


def not_found_category() -> tuple[str | None, str | None] | None:
    """``(category, subCategory)`` of a page answered 404 (the
    :data:`NOT_FOUND` key); ``None`` when none is set: such a page is then
    no PAGE_VIEW."""
    return _fields(_mapping().get(NOT_FOUND))


def category_for(request: Any, *, not_found: bool = False) -> tuple[str | None, str | None]:
    """``(category, subCategory)`` the setting (over :data:`DEFAULTS`) gives
    ``request``'s page (``not_found``: a page answered 404, whatever its
    URL); ``(None, None)`` when it gives none (or the URL did not
    resolve)."""
    if not_found:
        return not_found_category() or (None, None)
    mapping = _mapping()
    match = getattr(request, "resolver_match", None)
    if not mapping or match is None:
        return None, None
    namespaces = list(match.namespaces)
    keys = [match.view_name]
    keys += [":".join(namespaces[:depth]) + ":*" for depth in range(len(namespaces), 0, -1)]
    keys.append("*")
    for key in keys:
        found = _fields(mapping.get(key))
        if found is not None:
            return found
    return None, None
