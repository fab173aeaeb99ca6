"""Optional URLs: ``path("dengage/", include("dengage_django.urls"))``.

* ``decide/`` (``dengage:decide``): the JSON view headless front ends post
  their page's events to, answered with Dengage's widgets
  (:mod:`.decisions.views`);
* ``widget-view/`` (``dengage:widget-view``): the beacon a widget's
  ``{% dengage_widget_view_script %}`` posts when the widget was seen
  (:mod:`.decisions.beacon`).
"""

from django.urls import path

from .decisions import views

app_name = "dengage"

urlpatterns = [
    path("decide/", views.decide, name="decide"),
    path("widget-view/", views.widget_view, name="widget-view"),
]
