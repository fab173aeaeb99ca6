"""django-oscar's own functional and integration tests, without and with
dengage-django and its Oscar integration, side by side.

    python bench/oscar_suite.py --oscar PATH [--pairs 3] [--postgres]

Oscar's tests are in neither its sdist nor its wheel: ``PATH`` is a clone of
django-oscar's repository at the installed version, installed into this
interpreter's environment with its test requirements (``pip install -e
PATH[test]``; dengage-django installed too). The suite runs serially,
``--pairs`` times each way, in pairs (without then with, then with then
without, ...), on
an in-memory SQLite database (Oscar's ``--sqlite``) or, with
``--postgres``, on PostgreSQL at 127.0.0.1:5432 (user ``postgres``,
database ``oscar_bench``, Oscar's own default). "With" is Oscar's
``tests/settings.py`` plus ``dengage_django`` and
``dengage_django.contrib.oscar`` after Oscar's apps, ``DengageMiddleware``
last, and a data center that is never reached. Prints each run's wall
and CPU time and its counts, then the ratios of the medians (with /
without). The two stacks must pass and fail the same tests.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = """\
from tests.settings import *  # noqa: F403 - Oscar's own test settings

INSTALLED_APPS = [*INSTALLED_APPS, "dengage_django", "dengage_django.contrib.oscar"]  # noqa: F405
MIDDLEWARE = [*MIDDLEWARE, "dengage_django.middleware.DengageMiddleware"]  # noqa: F405
DENGAGE_API_KEY = "11111111-2222-3333-4444-555555555555"
DENGAGE_DATA_CENTER_URL = "http://127.0.0.1:9"  # the discard port: never reached
DENGAGE_ORIGIN = "https://shop.example.com"
"""
SUMMARY = re.compile(r"^(?P<summary>.*\d+ passed.*) in [\d.]+s", re.M)
FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)
COUNTS = re.compile(r"\d+ (?:passed|failed|skipped|errors?)\b")


def run(oscar, settings_dir, with_dengage, postgres):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(oscar), str(settings_dir)])
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    if postgres:
        env.update(
            DATABASE_ENGINE="django.db.backends.postgresql",
            DATABASE_NAME="oscar_bench",
            DATABASE_USER="postgres",
            DATABASE_HOST="127.0.0.1",
        )
    else:
        # --sqlite alone comes too late for --ds: Oscar's conftest sets these.
        env.update(DATABASE_ENGINE="django.db.backends.sqlite3", DATABASE_NAME=":memory:")
        command.append("--sqlite")
    command += ["--ds", "dengage_oscar_settings" if with_dengage else "tests.settings"]
    command += ["tests/functional", "tests/integration"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=oscar, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = SUMMARY.search(result.stdout)
    if found is None:
        sys.exit(f"no pytest summary:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return wall, cpu, found["summary"], sorted(FAILED.findall(result.stdout))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--oscar", type=Path, required=True, help="a django-oscar clone")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    oscar = args.oscar.resolve()
    if not (oscar / "tests" / "settings.py").is_file():
        sys.exit(f"{oscar} is not a django-oscar clone (no tests/settings.py)")
    results = {False: [], True: []}
    with tempfile.TemporaryDirectory() as settings_dir:
        Path(settings_dir, "dengage_oscar_settings.py").write_text(SETTINGS)
        for number in range(1, args.pairs + 1):
            # Each pair in the other order: a drift of the machine over the
            # session does not land on one side.
            for with_dengage in (False, True) if number % 2 else (True, False):
                wall, cpu, summary, failed = run(oscar, settings_dir, with_dengage, args.postgres)
                results[with_dengage].append((wall, cpu, summary, failed))
                label = "with   " if with_dengage else "without"
                print(f"pair {number} {label}  wall {wall:7.1f} s  cpu {cpu:7.1f} s  {summary}")
                for test in failed:
                    print(f"    failed: {test}")
    # The same tests passed and failed (warnings vary from run to run).
    outcomes = {
        key: {(tuple(COUNTS.findall(r[2])), tuple(r[3])) for r in runs}
        for key, runs in results.items()
    }
    same = outcomes[False] == outcomes[True] and len(outcomes[False]) == 1
    for index, name in ((0, "wall"), (1, "cpu")):
        without = statistics.median(r[index] for r in results[False])
        with_ = statistics.median(r[index] for r in results[True])
        print(
            f"median {name}: without {without:.1f} s, with {with_:.1f} s: "
            f"{with_ / without:.3f}x ({(with_ / without - 1) * 100:+.1f} %)"
        )
    print("same outcome with and without: " + ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
