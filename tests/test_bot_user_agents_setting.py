"""DENGAGE_BOT_USER_AGENTS that is not a list of regexes: a configuration
error naming the setting, not a TypeError from deep inside is_bot."""

import pytest

from dengage_django.exceptions import DengageConfigurationError
from dengage_django.tracking.device import is_bot

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize("value", [5, 3.5, object()])
def test_a_value_that_is_no_list_is_a_configuration_error(settings, value):
    settings.DENGAGE_BOT_USER_AGENTS = value
    with pytest.raises(DengageConfigurationError, match="must be a list of regexes"):
        is_bot(CHROME)


def test_fixing_the_setting_takes_effect_at_once(settings):
    settings.DENGAGE_BOT_USER_AGENTS = 5
    with pytest.raises(DengageConfigurationError):
        is_bot(CHROME)
    settings.DENGAGE_BOT_USER_AGENTS = [r"Chrome/126"]
    assert is_bot(CHROME) is True
