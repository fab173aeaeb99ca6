"""Template tags: ``{% load dengage %}``.

* ``{% dengage_page "Product Page" "Men > Sports" %}``: the category and
  subCategory of this page's PAGE_VIEW;
* ``{% dengage_product_view product %}`` (extra fields as keyword
  arguments): a PRODUCT_VIEW;
* ``{% dengage_checkout "basket" basket %}``: a CHECKOUT step of a basket;
* ``{% dengage_custom_event "wishlist_add" product_id=p.pk %}``: a
  CUSTOM_EVENT whose keyword arguments become its ``params``;
* ``{% dengage_recommendations as widgets %}`` (after the tags above): the
  page's events sent live, Dengage's recommendation widgets in ``widgets``
  (``request.dengage.decide().widgets``; an empty list when late, failed,
  untracked or not configured);
* ``<section{% dengage_widget_view widget %}>``: the attribute that has
  the widget's view reported once it is seen, and
  ``{% dengage_widget_view_script %}`` (once per page, with the page's CSP
  nonce: ``csp_nonce`` in the context, or ``nonce=...``): the script that
  reports it to ``dengage:widget-view`` (:mod:`..decisions.beacon`;
  nothing without ``dengage_django.urls``).

The first four render nothing. They use ``request.dengage`` (the ``request`` context processor or a
``RequestContext`` must provide ``request``); rendered without a request, or
without the middleware, they do nothing. A bad event never breaks the page
outside strict mode.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ..conf import dengage_settings
from ..decisions import beacon

if TYPE_CHECKING:
    from django.template import Context

register = template.Library()
logger = logging.getLogger(__name__)


def _call(context: Context, method: str, *args: Any, **kwargs: Any) -> str:
    request = context.get("request")
    tracker = getattr(request, "dengage", None)
    if tracker is None:
        return ""
    try:
        getattr(tracker, method)(*args, **kwargs)
    except Exception:
        if dengage_settings.STRICT:
            raise
        logger.exception("{%% dengage %s %%} failed", method)
    return ""


@register.simple_tag(takes_context=True)
def dengage_page(
    context: Context, category: str | None = None, sub_category: str | None = None
) -> str:
    return _call(context, "page", category, sub_category)


@register.simple_tag(takes_context=True)
def dengage_product_view(context: Context, product: Any = None, **fields: Any) -> str:
    return _call(context, "product_view", product, **fields)


@register.simple_tag(takes_context=True)
def dengage_checkout(context: Context, step: str, basket: Any, **fields: Any) -> str:
    return _call(context, "checkout_basket", step, basket, **fields)


@register.simple_tag(takes_context=True)
def dengage_custom_event(context: Context, type: str, **params: Any) -> str:
    return _call(context, "custom_event", type, params or None)


@register.simple_tag(takes_context=True)
def dengage_recommendations(context: Context) -> list[Any]:
    tracker = getattr(context.get("request"), "dengage", None)
    if tracker is None:
        return []
    try:
        return list(tracker.decide().widgets)
    except Exception:
        if dengage_settings.STRICT:
            raise
        logger.exception("{% dengage_recommendations %} failed")
        return []


@register.simple_tag(takes_context=True)
def dengage_widget_view(context: Context, widget: Any) -> str:
    """`` data-dengage-view="<token>"``: this visitor's signed token of
    ``widget``; nothing when the request is not tracked."""
    tracker = getattr(context.get("request"), "dengage", None)
    if tracker is None or not tracker.active:
        return ""
    try:
        token = beacon.view_token(tracker.user_id, widget, tracker.page_url)
        return format_html(' data-dengage-view="{}"', token)
    except Exception:
        if dengage_settings.STRICT:
            raise
        logger.exception("{% dengage_widget_view %} failed")
        return ""


@register.simple_tag(takes_context=True)
def dengage_widget_view_script(context: Context, nonce: str | None = None) -> str:
    """The inline script reporting the page's widgets once seen, with
    ``nonce`` (default: the context's ``csp_nonce``, as Django's and
    django-csp's context processors set it); nothing without
    ``dengage_django.urls``."""
    try:
        url = reverse("dengage:widget-view")
    except NoReverseMatch:
        return ""
    nonce = nonce if nonce is not None else context.get("csp_nonce")
    if nonce:
        return format_html('<script nonce="{}" data-url="{}">{}</script>', nonce, url, _SCRIPT)
    return format_html('<script data-url="{}">{}</script>', url, _SCRIPT)


_SCRIPT = mark_safe(beacon.SCRIPT)  # a constant of this package: no input
