"""Rule 6: cookies behind proxies and across subdomains."""

import pytest
from django.core.checks import run_checks

from .conftest import browser

pytestmark = pytest.mark.django_db


def test_cookie_domain_is_shared_across_subdomains(settings):
    settings.DENGAGE_COOKIE_DOMAIN = ".example.com"
    response = browser().get("/")
    assert response.cookies["dengage_uid"]["domain"] == ".example.com"
    assert response.cookies["dengage_sid"]["domain"] == ".example.com"


def test_secure_follows_the_proxy_header(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = browser().get("/")
    proxied = browser().get("/", HTTP_X_FORWARDED_PROTO="https")
    assert not plain.cookies["dengage_uid"]["secure"]
    assert proxied.cookies["dengage_uid"]["secure"] is True


@pytest.mark.parametrize("value", [True, False])
def test_secure_can_be_forced(settings, value):
    settings.DENGAGE_COOKIE_SECURE = value
    response = browser().get("/", secure=not value)
    assert bool(response.cookies["dengage_uid"]["secure"]) is value


def w007(settings):
    return [m for m in run_checks() if m.id == "dengage_django.W007"]


def test_check_warns_when_https_only_cookies_would_not_be_secure(settings):
    settings.SESSION_COOKIE_SECURE = True
    assert len(w007(settings)) == 1  # behind a proxy without SECURE_PROXY_SSL_HEADER
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert w007(settings) == []
    settings.DENGAGE_COOKIE_SECURE = False
    [warning] = w007(settings)
    assert "DENGAGE_COOKIE_SECURE is False" in warning.msg
    settings.DENGAGE_COOKIE_SECURE = True
    assert w007(settings) == []


def test_check_is_quiet_on_a_plain_http_site(settings):
    assert w007(settings) == []
