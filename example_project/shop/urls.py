"""The example shop's URLs: the store, the accounts pages, the admin and
dengage-django's own (the widget-view beacon)."""

from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # dengage:widget-view, where the recommendations' script reports them seen.
    path("dengage/", include("dengage_django.urls")),
    path("", include("example_project.store.urls")),
]
# Serves the store's CSS and images under runserver with DEBUG=True (as
# ``make shop`` runs it); with DEBUG=False put a web server in front.
urlpatterns += staticfiles_urlpatterns()
