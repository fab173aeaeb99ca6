"""A page's PAGE_VIEW category from its URL's name (``DENGAGE_PAGE_CATEGORIES``).

``{"shop:product": "Product Page", "shop:category": ["Category Page",
"Shoes"], "checkout:*": "Checkout Page", "*": "Other Page"}``: the request's
``resolver_match.view_name`` (``"namespace:name"``) is looked up, then its
namespaces from the innermost (``"checkout:*"``), then ``"*"``. A category
the view or its template set (``request.dengage.page(...)``, ``{%
dengage_page %}``) wins, with its subCategory; one set alone keeps the
setting's category.
"""

from __future__ import annotations

from typing import Any

from ..conf import dengage_settings

#: Categories integrations give the URLs of the apps they integrate
#: (:func:`register_defaults`); the shop's setting overrides them, key by key.
DEFAULTS: dict[str, Any] = {}


def register_defaults(categories: dict[str, Any]) -> None:
    """Add ``categories`` (``DENGAGE_PAGE_CATEGORIES``' shape) under the
    shop's own setting: an integration's app calls this in ``ready()``."""
    DEFAULTS.update(categories)


def category_for(request: Any) -> tuple[str | None, str | None]:
    """``(category, subCategory)`` the setting (over :data:`DEFAULTS`) gives
    ``request``'s page; ``(None, None)`` when it gives none (or the URL did
    not resolve)."""
    setting = dengage_settings.PAGE_CATEGORIES
    mapping = {**DEFAULTS, **setting} if isinstance(setting, dict) else DEFAULTS
    match = getattr(request, "resolver_match", None)
    if not mapping or match is None:
        return None, None
    namespaces = list(match.namespaces)
    keys = [match.view_name]
    keys += [":".join(namespaces[:depth]) + ":*" for depth in range(len(namespaces), 0, -1)]
    keys.append("*")
    for key in keys:
        found = mapping.get(key)
        if isinstance(found, str):
            return found, None
        if isinstance(found, (list, tuple)) and 1 <= len(found) <= 2:
            return found[0], found[1] if len(found) == 2 else None
    return None, None
