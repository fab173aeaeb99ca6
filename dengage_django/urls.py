"""Optional URLs: ``path("dengage/", include("dengage_django.urls"))``.

* ``decide/`` (``dengage:decide``): the JSON view headless front ends post
  their page's events to, answered with Dengage's widgets
  (:mod:`.decisions.views`).
"""

from django.urls import path

from .decisions import views

app_name = "dengage"

urlpatterns = [
    path("decide/", views.decide, name="decide"),
]
