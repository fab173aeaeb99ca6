"""dengage_settings: one object reads every DENGAGE_* setting, cached until a
setting changes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.test import override_settings

from dengage_django.conf import DEFAULTS, dengage_settings


def test_defaults_and_overrides():
    assert dengage_settings.BATCH_SIZE == DEFAULTS["BATCH_SIZE"] == 100
    with override_settings(DENGAGE_BATCH_SIZE=7):
        assert dengage_settings.BATCH_SIZE == 7
        with override_settings(DENGAGE_BATCH_SIZE=8):
            assert dengage_settings.BATCH_SIZE == 8
        assert dengage_settings.BATCH_SIZE == 7
    assert dengage_settings.BATCH_SIZE == 100


def test_pytest_django_settings_fixture_set_and_delete(settings):
    """pytest-django's fixture deletes a setting without sending
    setting_changed: the cache must still notice."""
    settings.DENGAGE_BATCH_SIZE = 9
    assert dengage_settings.BATCH_SIZE == 9
    del settings.DENGAGE_BATCH_SIZE
    assert dengage_settings.BATCH_SIZE == 100
    assert dengage_settings.STRICT is True  # tests/settings.py
    del settings.DENGAGE_STRICT
    assert dengage_settings.STRICT is False  # follows DEBUG
    settings.DEBUG = True
    assert dengage_settings.STRICT is True


def test_values_are_cached_until_a_setting_changes():
    with override_settings(DENGAGE_BATCH_SIZE=5, DENGAGE_DATA_CENTER_URL="https://a.example/"):
        assert dengage_settings.BATCH_SIZE == 5
        assert dengage_settings.DATA_CENTER_URL == "https://a.example"
        # Changed behind Django's back (no signal, same settings object):
        # the cached value stands...
        django_settings.DENGAGE_BATCH_SIZE = 6
        assert dengage_settings.BATCH_SIZE == 5
        # ...until setting_changed says otherwise.
        setting_changed.send(sender=None, setting="DENGAGE_BATCH_SIZE", value=6, enter=True)
        assert dengage_settings.BATCH_SIZE == 6


def test_unknown_setting_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no dengage-django setting named 'BATCH'"):
        getattr(dengage_settings, "BATCH")  # noqa: B009


def test_read_before_django_settings_are_set_up():
    """The first read may be what sets Django's settings up (a script that
    imports the app before anything touched settings)."""
    script = (
        "import django.conf\n"
        "from dengage_django.conf import dengage_settings\n"
        "assert django.conf.settings._wrapped is django.conf.empty\n"
        "print(dengage_settings.API_KEY, dengage_settings.BATCH_SIZE)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [django_settings.DENGAGE_API_KEY, "100"]


def test_a_callable_setting_is_given_as_the_callable(settings):
    import json

    settings.DENGAGE_CONSENT = "json.dumps"  # a dotted path: imported
    assert dengage_settings.callable("CONSENT") is json.dumps
    settings.DENGAGE_CONSENT = json.loads  # a callable: as it is
    assert dengage_settings.callable("CONSENT") is json.loads
    settings.DENGAGE_CONSENT = None
    assert dengage_settings.callable("CONSENT") is None
    with pytest.raises(AttributeError, match="NO_SUCH"):
        dengage_settings.callable("NO_SUCH")
