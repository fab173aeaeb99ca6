"""The example shop's URLs: the store, the accounts pages and the admin."""

from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("example_project.store.urls")),
]
# Serves the store's CSS and images under runserver with DEBUG=True (as
# ``make shop`` runs it); with DEBUG=False put a web server in front.
urlpatterns += staticfiles_urlpatterns()
