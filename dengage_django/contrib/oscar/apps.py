"""The Oscar integration's app: it connects :mod:`.receivers` to Oscar's
signals and models, has the middleware run :func:`.pages.finish` on each
request, gives Oscar's pages their PAGE_VIEW categories
(:data:`OSCAR_PAGE_CATEGORIES`, under the shop's own
``DENGAGE_PAGE_CATEGORIES``), excludes Oscar's dashboard as a staff area,
takes events' currency from ``OSCAR_DEFAULT_CURRENCY`` (unless
``DENGAGE_DEFAULT_CURRENCY`` is set) and names users of Django's own user
model by their e-mail (:mod:`.users`; unless ``DENGAGE_USER_FIELDS`` is
set)."""

from django.apps import AppConfig
from django.conf import settings

#: PAGE_VIEW categories of Oscar's pages by URL name (the shop's
#: ``DENGAGE_PAGE_CATEGORIES`` overrides any of them).
OSCAR_PAGE_CATEGORIES = {
    "catalogue:index": "Category Page",
    "catalogue:category": "Category Page",
    "catalogue:range": "Category Page",
    "catalogue:detail": "Product Page",
    "basket:summary": "Basket Page",
    "checkout:*": "Checkout Page",
    "search:search": "Search Page",
    "home": "Category Page",
    "404": "404 Page",
}


class DengageOscarConfig(AppConfig):
    name = "dengage_django.contrib.oscar"
    label = "dengage_oscar"
    verbose_name = "Dengage for django-oscar"

    def ready(self) -> None:
        from ...events.users import register_default_builder
        from ...recording.store import register_fallback
        from ...tracking.categories import register_defaults
        from ...tracking.hooks import on_finish
        from ...tracking.policy import register_staff_area
        from . import pages, receivers, users

        receivers.connect()
        on_finish(pages.finish)
        register_defaults(OSCAR_PAGE_CATEGORIES)
        # Oscar's dashboard is its staff's, as the admin is.
        register_staff_area("dashboard:index")
        register_fallback("currency", _oscar_currency)
        register_default_builder(users.user_fields)


def _oscar_currency() -> str | None:
    """Events' ``currency`` when ``DENGAGE_DEFAULT_CURRENCY`` is not set."""
    return getattr(settings, "OSCAR_DEFAULT_CURRENCY", None)
