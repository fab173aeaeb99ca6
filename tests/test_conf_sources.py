"""Settings fall back to the environment (django-environ), typed, with .env."""

import os

import pytest

from dengage_django.conf import DEFAULTS, SETTINGS, dengage_settings


@pytest.fixture
def clean_env(monkeypatch, settings):
    for name in ("API_KEY", "BATCH_SIZE", "ENABLED", "TASK_THROTTLE", "ENV_FILE", "CONSENT"):
        monkeypatch.delenv("DENGAGE_" + name, raising=False)
    return monkeypatch


def test_a_setting_absent_from_settings_comes_from_the_environment(clean_env, settings):
    del settings.DENGAGE_API_KEY
    clean_env.setenv("DENGAGE_API_KEY", "key-from-env")
    clean_env.setenv("DENGAGE_BATCH_SIZE", "250")
    clean_env.setenv("DENGAGE_ENABLED", "false")
    clean_env.setenv("DENGAGE_TASK_THROTTLE", "2.5")
    dengage_settings.reload()
    assert dengage_settings.API_KEY == "key-from-env"
    assert dengage_settings.BATCH_SIZE == 250
    assert dengage_settings.ENABLED is False
    assert dengage_settings.TASK_THROTTLE == 2.5
    assert dengage_settings.source("API_KEY") == "environment"
    assert dengage_settings.source("ORIGIN") == "settings"
    assert dengage_settings.source("RETENTION_DAYS") == "default"


def test_django_settings_win_over_the_environment(clean_env, settings):
    clean_env.setenv("DENGAGE_API_KEY", "key-from-env")
    dengage_settings.reload()
    assert dengage_settings.API_KEY == settings.DENGAGE_API_KEY
    assert dengage_settings.source("API_KEY") == "settings"


def test_callables_never_come_from_the_environment(clean_env):
    clean_env.setenv("DENGAGE_CONSENT", "os.system")
    dengage_settings.reload()
    assert dengage_settings.CONSENT is None


def test_a_dotenv_file_is_read_without_overriding_the_environment(clean_env, settings, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DENGAGE_BATCH_SIZE=42\nDENGAGE_API_KEY=from-file\n")
    del settings.DENGAGE_API_KEY
    clean_env.setenv("DENGAGE_API_KEY", "from-process")
    settings.DENGAGE_ENV_FILE = str(env_file)
    dengage_settings.reload()
    try:
        assert dengage_settings.BATCH_SIZE == 42
        assert dengage_settings.API_KEY == "from-process"
    finally:
        os.environ.pop("DENGAGE_BATCH_SIZE", None)  # read_env put it there


def test_the_table_is_the_single_source_of_defaults():
    assert len({s.name for s in SETTINGS}) == len(SETTINGS) == len(DEFAULTS)
    assert all(s.doc and s.type and s.section for s in SETTINGS)


def test_the_source_check_never_shows_a_value(clean_env, settings):
    from django.core.checks import run_checks

    del settings.DENGAGE_API_KEY
    clean_env.setenv("DENGAGE_API_KEY", "s3cr3t-key")
    dengage_settings.reload()
    [info] = [m for m in run_checks(include_deployment_checks=True) if m.id.endswith("I001")]
    assert "DENGAGE_API_KEY from environment" in info.msg
    assert "s3cr3t" not in info.msg + (info.hint or "")
