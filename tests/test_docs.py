"""The README documents every setting, and only real ones."""

import re
from pathlib import Path

from dengage_django.conf import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.rst").read_text()


def documented_settings():
    return set(re.findall(r"^   \* - ``DENGAGE_([A-Z_]+)``$", README, re.M))


def test_every_setting_is_in_the_settings_reference():
    assert set(DEFAULTS) - documented_settings() == set()


def test_the_reference_names_no_setting_that_does_not_exist():
    assert documented_settings() - set(DEFAULTS) == set()


def test_documented_defaults_match_the_code():
    rows = re.findall(r"^   \* - ``DENGAGE_([A-Z_]+)``\n     - .*\n     - (.*)$", README, re.M)
    assert len(rows) == len(DEFAULTS)
    for name, default in rows:
        shown = default.strip("`")
        value = DEFAULTS[name]
        if isinstance(value, str):
            assert shown == f'"{value}"', name
        elif value is None or isinstance(value, (bool, int, float)):
            assert shown == repr(value), name


def test_every_check_id_is_documented():
    from dengage_django.checks import CHECK_IDS

    documented = set(re.findall(r"``(dengage_django\.[EW]\d{3})``", README))
    assert set(CHECK_IDS) == documented


def test_every_signal_is_documented():
    from django.dispatch import Signal

    from dengage_django import signals

    names = {name for name, value in vars(signals).items() if isinstance(value, Signal)}
    assert names and all(f"``{name}``" in README for name in names)
