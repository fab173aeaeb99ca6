"""Rule 8: staff areas are not visitors."""

import pytest

from dengage_django.models import DengageIdentity
from dengage_django.tracking import policy

from .conftest import browser, events

pytestmark = pytest.mark.django_db


def test_excluded_paths_extend_the_defaults(settings):
    settings.DENGAGE_EXCLUDED_PATHS = [r"/dashboard/"]
    assert policy.is_excluded("/dashboard/orders/")
    assert policy.is_excluded("/admin/")
    assert policy.is_excluded("/static/app.css")
    assert not policy.is_excluded("/p/1/")


def test_excluded_paths_match_after_a_language_prefix(settings):
    settings.USE_I18N = True
    settings.LANGUAGES = [("en", "English"), ("tr", "Türkçe")]
    settings.DENGAGE_EXCLUDED_PATHS = [r"/dashboard/"]
    assert policy.is_excluded("/tr/dashboard/")
    assert policy.is_excluded("/en/admin/")
    assert not policy.is_excluded("/tr/p/1/")
    assert not policy.is_excluded("/xx/dashboard/")  # not a language of the site


def test_staff_on_an_excluded_path_never_link_adopt_or_mint(staff, settings):
    settings.DENGAGE_EXCLUDED_PATHS = [r"/login/"]
    client = browser()
    response = client.post("/login/", {"username": "staff", "password": "pw"})
    assert "dengage_uid" not in response.cookies
    assert not DengageIdentity.objects.filter(user=staff).exists()
    assert events() == []
    response = client.get("/admin/")
    assert "dengage_uid" not in response.cookies


def test_admin_login_links_nothing_and_a_later_shop_visit_is_its_own(staff):
    client = browser()
    client.get("/")
    device = client.cookies["dengage_uid"].value
    client.force_login(staff)  # not through a tracked request
    outside = DengageIdentity.objects.get(user=staff).dengage_user_id
    assert outside != device
    client.get("/admin/")
    assert DengageIdentity.objects.get(user=staff).dengage_user_id == outside
