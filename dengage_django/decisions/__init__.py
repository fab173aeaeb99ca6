"""Dengage's decisions: the widgets its answer to a POST of events carries.

:mod:`.widgets` reads the answer into :class:`Decisions` holding
:class:`Widget` objects, and :mod:`.attribution` adds, reads and strips the
``_sgm_*`` parameters that credit a widget's clicks to its campaign: both
pure (no request, database or network). :mod:`.live` sends a request's
events live (``request.dengage.decide()``) and :mod:`.views` is the JSON
view of ``dengage_django.urls``. See ``docs/decisions.rst``.
"""

from .attribution import (
    ATTRIBUTION_PARAMETERS,
    UTM_PARAMETERS,
    Attribution,
    attribution_from_query,
    is_web_link,
    strip_attribution,
    with_attribution,
)
from .widgets import (
    MAX_ACTIONS,
    MAX_PRODUCTS,
    MAX_WIDGETS,
    RECOMMEND_PRODUCTS,
    STATIC_ITEMS,
    Decisions,
    Widget,
    decisions_from_answer,
    widget_from_action,
)

__all__ = [
    "ATTRIBUTION_PARAMETERS",
    "MAX_ACTIONS",
    "MAX_PRODUCTS",
    "MAX_WIDGETS",
    "RECOMMEND_PRODUCTS",
    "STATIC_ITEMS",
    "UTM_PARAMETERS",
    "Attribution",
    "Decisions",
    "Widget",
    "attribution_from_query",
    "decisions_from_answer",
    "is_web_link",
    "strip_attribution",
    "widget_from_action",
    "with_attribution",
]
