"""The Oscar integration's app: it connects :mod:`.receivers` to Oscar's
signals and gives Oscar's pages their PAGE_VIEW categories
(:data:`OSCAR_PAGE_CATEGORIES`, under the shop's own
``DENGAGE_PAGE_CATEGORIES``)."""

from django.apps import AppConfig

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
}


class DengageOscarConfig(AppConfig):
    name = "dengage_django.contrib.oscar"
    label = "dengage_oscar"
    verbose_name = "Dengage for django-oscar"

    def ready(self) -> None:
        from ...tracking.categories import register_defaults
        from . import receivers

        receivers.connect()
        register_defaults(OSCAR_PAGE_CATEGORIES)
