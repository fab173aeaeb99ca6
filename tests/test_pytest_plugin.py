"""The pytest plugin (dengage_django.testing.pytest_plugin) a shop's tests get.

This suite itself runs with the plugin loaded through its entry point, so its
fixtures are used here directly; ``pytester`` runs a tiny shop test file in
a subprocess, as a shop's own test run would.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from dengage_django.testing import BROWSER_USER_AGENT, CapturedEvents, FakeDengageServer
from dengage_django.testing import pytest_plugin as plugin

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ("dengage_events", "dengage_client", "dengage_server")

SHOP_TESTS = textwrap.dedent(
    """
    import pytest
    from django.conf import settings

    from dengage_django import signals


    def test_home_page_view(dengage_client, dengage_events):
        assert settings.DENGAGE_ID_SOURCE == "local"
        dengage_client.get("/")
        page = dengage_events.one("PAGE_VIEW", category="Home Page")
        assert page["pageUrl"] == "http://testserver/"
        assert dengage_events.names() == ["PAGE_VIEW"]


    def test_fake_server(dengage_server):
        assert settings.DENGAGE_DATA_CENTER_URL == dengage_server.url


    def test_untouched(request):
        assert not [name for name in request.fixturenames if name.startswith("dengage")]
        assert settings.DENGAGE_ID_SOURCE == "dengage"
        assert settings.DENGAGE_DATA_CENTER_URL == "http://127.0.0.1:9"
    assert not [
        key for key, *_ in signals.event_recorded.receivers if "dengage_django.testing" in key[0]
    ]


    def test_wrong_category(dengage_client, dengage_events):
        dengage_client.get("/")
        dengage_events.one("PAGE_VIEW", category="Nope")
    """
)


@pytest.fixture
def shop(pytester, monkeypatch):
    """A pytester directory holding a shop's tests run against ``tests.settings``."""
    for name in (
        "DATABASE_URL",
        "DENGAGE_TEST_DB_NAME",
        "DENGAGE_DATA_CENTER_URL",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")
    pytester.makeini(
        f"""
        [pytest]
        pythonpath = {REPO_ROOT}
        addopts = -p no:cacheprovider
        """
    )
    pytester.makeconftest(
        """
        import pytest


        @pytest.fixture(autouse=True)
        def shop_settings(settings):
            # The shop's own choice: dengage_events forces local ids anyway.
            settings.DENGAGE_ID_SOURCE = "dengage"
        """
    )
    pytester.makepyfile(test_shop=SHOP_TESTS)
    return pytester


# In this process (the plugin was loaded by its entry point).


def test_the_plugin_is_loaded_through_its_entry_point(pytestconfig):
    assert pytestconfig.pluginmanager.get_plugin("dengage_django") is plugin


def test_the_plugin_is_inert_unless_a_fixture_is_used(request):
    assert not [name for name in vars(plugin) if name.startswith("pytest_")]  # no hooks
    assert not [name for name in request.fixturenames if name.startswith("dengage")]
    assert django_settings.DENGAGE_ID_SOURCE == "local"  # tests.settings' own value


def test_importing_the_plugin_needs_no_django_settings():
    code = (
        "import sys, dengage_django.testing.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'dengage_django')))"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "['dengage_django',",
        "'dengage_django.testing',",
        "'dengage_django.testing.pytest_plugin',",
        "'dengage_django.testing.server']",
    ]


@pytest.mark.django_db
def test_dengage_events_and_dengage_client(dengage_client, dengage_events):
    assert isinstance(dengage_events, CapturedEvents)
    assert dengage_client.defaults["HTTP_USER_AGENT"] == BROWSER_USER_AGENT
    dengage_client.get("/p/1/")
    dengage_events.one("PRODUCT_VIEW", productId="P1")
    assert dengage_events.names() == ["PAGE_VIEW", "PRODUCT_VIEW"]


def test_dengage_events_gives_the_test_database_access(dengage_events):
    from dengage_django.models import OutboxEvent

    assert OutboxEvent.objects.count() == 0


def test_dengage_server_is_where_events_go(dengage_server, dengage_client, dengage_events):
    assert isinstance(dengage_server, FakeDengageServer)
    assert django_settings.DENGAGE_DATA_CENTER_URL == dengage_server.url
    assert django_settings.DENGAGE_API_KEY == dengage_server.api_key
    assert django_settings.DENGAGE_ORIGIN == dengage_server.origin
    dengage_client.get("/")
    call_command("send_dengage_outbox", "--no-progress", stdout=open(os.devnull, "w"))
    [sent] = dengage_server.wait_for_events(1)
    assert sent == dengage_events.one("PAGE_VIEW")


# In a shop's own test run (a subprocess: slow).


@pytest.mark.slow
def test_a_shop_test_run_gets_the_fixtures(shop):
    result = shop.runpytest_subprocess("-v")

    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["plugins:*dengage-django-*"])  # loaded by its entry point
    # pytest-django runs the database tests first: test_untouched comes last.
    result.stdout.fnmatch_lines(
        [
            "*test_home_page_view PASSED*",
            "*test_wrong_category FAILED*",
            "*test_fake_server PASSED*",
            "*test_untouched PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E*AssertionError: expected one PAGE_VIEW event with category='Nope', found 0.",
            "E*Recorded (1):",
            "E*1. PAGE_VIEW (differs: category='Home Page') userId=*",
        ]
    )


@pytest.mark.slow
def test_a_shop_can_turn_the_plugin_off(shop):
    result = shop.runpytest_subprocess("-p", "no:dengage_django", "-k", "home_page_view")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'dengage_client' not found*"])
