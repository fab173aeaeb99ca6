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


def test_the_patterns_are_built_once_per_settings_and_urlconf(settings, monkeypatch):
    # Built per request they cost a reverse() and a regex list on every page.
    from dengage_django.tracking import policy

    settings.STATIC_URL = "/static/"
    built = []
    original = policy.default_excluded_paths
    monkeypatch.setattr(policy, "default_excluded_paths", lambda: built.append(1) or original())
    assert is_excluded("/admin/") and not is_excluded("/shop/")
    assert is_excluded("/static/a.css")
    assert len(built) == 1


def test_a_changed_setting_or_urlconf_builds_them_again(settings):
    from django.urls import set_urlconf

    settings.STATIC_URL = "/static/"
    assert is_excluded("/admin/")
    settings.STATIC_URL = "/assets/"  # setting_changed
    assert is_excluded("/assets/a.css") and not is_excluded("/static/a.css")
    settings.DENGAGE_EXCLUDED_PATHS = [r"/private/"]
    assert is_excluded("/private/x")
    set_urlconf(__name__)  # a request's own urlconf (request.urlconf): no admin there
    try:
        assert not is_excluded("/admin/") and is_excluded("/private/x")
    finally:
        set_urlconf(None)
    assert is_excluded("/admin/")


@pytest.mark.parametrize("setting", ["STATIC_URL", "ROOT_URLCONF", "DENGAGE_EXCLUDED_PATHS"])
def test_only_the_settings_they_are_made_of_build_them_again(settings, monkeypatch, setting):
    # A test suite's override_settings of anything else (212 times in
    # django-oscar's) would rebuild them on the next request: a reverse()
    # on a cold URL resolver each time.
    from dengage_django.tracking import policy

    settings.STATIC_URL = "/static/"
    built = []
    original = policy.default_excluded_paths
    monkeypatch.setattr(policy, "default_excluded_paths", lambda: built.append(1) or original())
    assert is_excluded("/admin/")
    settings.TIME_ZONE = "Europe/Istanbul"
    settings.DENGAGE_BATCH_SIZE = 7
    assert is_excluded("/admin/")
    assert len(built) == 1
    values = {
        "STATIC_URL": "/assets/",
        "ROOT_URLCONF": settings.ROOT_URLCONF,
        "DENGAGE_EXCLUDED_PATHS": [r"/private/"],
    }
    setattr(settings, setting, values[setting])
    assert is_excluded("/admin/")
    assert len(built) == 2
