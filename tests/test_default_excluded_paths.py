"""policy.default_excluded_paths: static and media URLs however they are
written, and a project without the admin."""

import pytest
from django.urls import path

from dengage_django.tracking.policy import default_excluded_paths, is_excluded

# A URLconf without the admin (this module, as ROOT_URLCONF).
urlpatterns = [path("", lambda request: None, name="home")]


@pytest.fixture
def without_admin(settings):
    settings.ROOT_URLCONF = __name__


def test_relative_static_and_media_urls_are_excluded_from_the_root(settings, without_admin):
    # Django itself puts the script prefix ("/") before a relative URL.
    settings.STATIC_URL = "static/"
    settings.MEDIA_URL = "media/"
    assert default_excluded_paths() == [r"/static/", r"/media/"]
    assert is_excluded("/static/site.css") and is_excluded("/media/p1.jpg")
    assert not is_excluded("/statics-page/") and not is_excluded("/")


@pytest.mark.parametrize("url", ["https://cdn.example.com/static/", "/", "", None])
def test_static_on_another_host_or_at_the_root_excludes_nothing(settings, without_admin, url):
    settings.STATIC_URL = url
    settings.MEDIA_URL = None
    assert default_excluded_paths() == []
    assert not is_excluded("/static/site.css")


def test_a_project_without_the_admin_still_excludes_static(settings, without_admin):
    settings.STATIC_URL = "/static/"
    settings.MEDIA_URL = ""
    assert default_excluded_paths() == [r"/static/"]
    assert not is_excluded("/admin/")


def test_the_admin_is_excluded_where_it_is_mounted(settings):
    settings.STATIC_URL = "/static/"
    settings.MEDIA_URL = ""
    assert default_excluded_paths() == [r"/static/", r"/admin/"]
