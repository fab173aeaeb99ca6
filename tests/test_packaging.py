"""``pip install .`` (not editable) gives a working app, migrations included.

Builds a wheel of the checkout, checks what it ships, installs it into a
directory of its own and migrates a fresh database from there, in a process
where the checkout itself is not importable.
"""

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

SHIPPED = [
    "dengage_django/migrations/0001_initial.py",
    "dengage_django/migrations/0002_identity.py",
    "dengage_django/migrations/0003_sent_index.py",
    "dengage_django/migrations/0004_identity_subject.py",
    "dengage_django/py.typed",
    "dengage_django/management/commands/send_dengage_outbox.py",
    "dengage_django/management/commands/dengage_status.py",
    "dengage_django/templates/admin/dengage_django/outboxevent/change_list.html",
    "dengage_django/testing/__init__.py",
    "dengage_django/testing/__main__.py",
    "dengage_django/testing/server.py",
    "dengage_django/testing/capture.py",
    "dengage_django/testing/pytest_plugin.py",
]
NOT_SHIPPED = ("tests/", "example_project/", "bench/")

CHECK_INSTALLED = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "dengage_django",
        ],
        USE_TZ=True,
    )
    django.setup()

    from django.core.management import call_command
    from django.db import connection

    import dengage_django

    site = Path(sys.argv[1]).resolve()
    where = Path(dengage_django.__file__).resolve()
    assert where.is_relative_to(site), f"imported from {where}, not from {site}"

    call_command("migrate", verbosity=0)
    tables = connection.introspection.table_names()
    assert "dengage_django_outboxevent" in tables, tables
    call_command("makemigrations", "dengage_django", "--check", "--dry-run", verbosity=1)
    print("installed app OK")
    """
)


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, (
        f"{args} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


@pytest.mark.slow
def test_wheel_installs_a_working_app(tmp_path):
    wheel_dir = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheel_dir), str(REPO_ROOT)])
    (wheel,) = wheel_dir.glob("dengage_django-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for name in SHIPPED:
        assert name in names
    assert not [name for name in names if name.startswith(NOT_SHIPPED)]

    site = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)])

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    env["PYTHONPATH"] = str(site)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = run(
        [sys.executable, "-c", CHECK_INSTALLED, str(site)],
        cwd=workdir,
        env=env,
    )
    assert "installed app OK" in result.stdout


def test_classifiers_and_requirements_match_the_tox_matrix():
    import configparser
    import re

    setup = configparser.ConfigParser()
    setup.read(REPO_ROOT / "setup.cfg")
    classifiers = setup["metadata"]["classifiers"]
    tox = configparser.ConfigParser()
    tox.read(REPO_ROOT / "tox.ini")
    envs = tox["tox"]["env_list"].split()
    pythons = {f"3.{m}" for m in re.findall(r"py3(\d+)", " ".join(envs))}
    djangos = {f"{m[0]}.{m[1:]}" for m in re.findall(r"dj(\d+)", " ".join(envs))}
    assert set(re.findall(r"Python :: (3\.\d+)", classifiers)) == pythons
    assert set(re.findall(r"Django :: (\d+\.\d+)", classifiers)) == djangos
    assert setup["options"]["python_requires"] == f">={min(pythons, key=lambda v: int(v[2:]))}"
    requirement = next(
        line for line in setup["options"]["install_requires"].split() if line.startswith("django")
    )
    low, high = min(djangos), max(djangos)
    assert requirement == f"django>={low},<{high[0]}.{int(high[2:]) + 1}"
