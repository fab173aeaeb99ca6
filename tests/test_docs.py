"""The documentation (docs/) matches the code, and builds without a warning.

* every setting of ``conf.SETTINGS`` is in the settings reference (generated
  from that table by ``docs/settings_table.py``) with its real default, and
  the docs name no ``DENGAGE_*`` setting that does not exist;
* every system check id is in docs/checks.rst, every signal in
  docs/operations.rst;
* the README stays short and points at the docs;
* ``sphinx-build -W`` succeeds (slow; skipped when Sphinx is not installed).
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dengage_django.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.rst").read_text(encoding="utf-8")


def page(name):
    return (DOCS / name).read_text(encoding="utf-8")


def sources():
    """Every reStructuredText source of the docs, the README included."""
    pages = {path.name: path.read_text(encoding="utf-8") for path in DOCS.glob("*.rst")}
    pages["README.rst"] = README
    return pages


def settings_table():
    """docs/settings_table.py, the generator docs/conf.py runs."""
    spec = importlib.util.spec_from_file_location(
        "dengage_docs_settings_table", DOCS / "settings_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def table():
    return settings_table().render()


ROW = re.compile(r"^   \* - ``DENGAGE_([A-Z_]+)``\n     - (.*)\n     - (.*)\n     - (.*)$", re.M)


def test_the_settings_page_includes_the_generated_table():
    assert ".. include:: _generated/settings_table.rst" in page("settings.rst")
    assert "_generated/" in page(".gitignore").split()


def test_every_setting_is_in_the_settings_reference(table):
    assert set(DEFAULTS) - {name for name, *_ in ROW.findall(table)} == set()


def test_the_reference_lists_each_setting_once_with_a_type_and_a_meaning(table):
    rows = ROW.findall(table)
    assert sorted(name for name, *_ in rows) == sorted(DEFAULTS)
    for name, shown_type, _default, meaning in rows:
        assert shown_type.strip() and meaning.strip(), name


def test_documented_defaults_match_the_code(table):
    rows = ROW.findall(table)
    assert len(rows) == len(DEFAULTS)
    for name, _type, default, _meaning in rows:
        shown = default.strip("`")
        value = DEFAULTS[name]
        if isinstance(value, str):
            assert shown == f'"{value}"', name
        else:
            assert shown == repr(value), name


def test_the_reference_is_grouped_by_section(table):
    from dengage_django.conf import SETTINGS

    sections = list(dict.fromkeys(setting.section for setting in SETTINGS))
    headings = re.findall(r"^(.+)\n-+$", table, re.M)
    assert headings == sections


def test_the_docs_name_no_setting_that_does_not_exist():
    named = {
        (source, name)
        for source, text in sources().items()
        # (not ``DENGAGE_SENT.inc()``: a metric of the signals' example)
        for name in re.findall(r"\bDENGAGE_([A-Z][A-Z_]*[A-Z])\b(?!\.\w)", text)
    }
    assert {(source, name) for source, name in named if name not in DEFAULTS} == set()


def test_every_check_id_is_documented():
    from dengage_django.checks import CHECK_IDS

    checks = page("checks.rst")
    rows = set(re.findall(r"^   \* - ``(dengage_django\.[A-Z]\d{3})``$", checks, re.M))
    assert rows == set(CHECK_IDS)


def test_every_signal_is_documented():
    from django.dispatch import Signal

    from dengage_django import signals

    names = {name for name, value in vars(signals).items() if isinstance(value, Signal)}
    operations = page("operations.rst")
    assert names and {name for name in names if f"``{name}``" not in operations} == set()


def test_every_page_is_in_the_table_of_contents():
    index = page("index.rst")
    listed = set(re.findall(r"^   ([a-z_]+)$", index, re.M))
    pages = {path.stem for path in DOCS.glob("*.rst")} - {"index"}
    assert pages == listed


def test_the_readme_is_short_and_points_at_the_docs():
    assert len(README.splitlines()) < 170
    for needed in ("make demo", "make test", "make bench", "make docs", "docs/_build/html"):
        assert needed in README, needed
    assert "pip install -e" in README


@pytest.mark.slow
def test_the_docs_build_with_warnings_as_errors(tmp_path):
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip('Sphinx is not installed (pip install -e ".[docs]")')
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        + ["-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "architecture.html").exists()
    settings_html = (tmp_path / "html" / "settings.html").read_text(encoding="utf-8")
    assert all(f"DENGAGE_{name}" in settings_html for name in DEFAULTS)
