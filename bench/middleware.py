"""Request cost: the example shop's product page with and without the middleware.

    python bench/middleware.py [--requests 2000] [--database URL ...]

A returning visitor (cookies kept) requests ``/product/run-001/`` of the
example shop through Django's test client: the product and its category
come from the database, the header reads the session (basket, login), and
with the middleware the page records a PAGE_VIEW and a PRODUCT_VIEW (one
outbox INSERT). Both stacks are measured in alternating rounds in one run;
the ratio is with / without. Each database runs in its own process (SQLite
in a temp file, and PostgreSQL at postgres://postgres@127.0.0.1:5432/bench
when it answers), with persistent connections and DEBUG off, as in
production.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import helpers  # noqa: E402

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
POSTGRES = "postgres://postgres@127.0.0.1:5432/bench"
PAGE = "/product/run-001/"
DENGAGE = "dengage_django.middleware.DengageMiddleware"


def measure(requests, rounds):
    """In a child process: time the page with and without the middleware."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings

    from dengage_django.models import OutboxEvent

    call_command("migrate", verbosity=0)
    call_command("seed_shop", verbosity=0)
    helpers.reset_outbox()  # TRUNCATE on PostgreSQL: no dead rows of earlier runs to read
    with_mw = list(settings.MIDDLEWARE)
    stacks = {"without": [m for m in with_mw if m != DENGAGE], "with": with_mw}
    per_round = max(requests // rounds, 1)
    timings = {name: [] for name in stacks}
    for round_number in range(rounds + 1):
        for name, middleware in stacks.items():
            with override_settings(MIDDLEWARE=middleware):
                client = Client(headers={"user-agent": DESKTOP})
                client.get(PAGE)  # the visitor has cookies and a session
                started = time.perf_counter()
                for _ in range(per_round):
                    assert client.get(PAGE).status_code == 200
                elapsed = time.perf_counter() - started
            if round_number:  # the first round warms up
                timings[name].append(elapsed / per_round)
    return {
        "vendor": connection.vendor,
        "without": statistics.median(timings["without"]),
        "with": statistics.median(timings["with"]),
        "events": OutboxEvent.objects.count(),
    }


def run_child(database, requests, rounds):
    env = helpers.shop_child_env(database)
    args = ["--child", "--requests", str(requests), "--rounds", str(rounds)]
    result = subprocess.run(
        [sys.executable, __file__, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def postgres_answers():
    try:
        import psycopg

        psycopg.connect(POSTGRES, connect_timeout=2).close()
        return True
    except Exception:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database", action="append", help="a DATABASE_URL (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(measure(args.requests, args.rounds)))
        return
    databases = args.database
    if not databases:
        sqlite = os.path.join(tempfile.mkdtemp(prefix="dengage-bench-"), "shop.sqlite3")
        databases = [f"sqlite:///{sqlite}"] + ([POSTGRES] if postgres_answers() else [])
    print(f"cpus: {os.cpu_count()}  page: {PAGE} of the example shop, {args.requests} requests")
    for database in databases:
        result = run_child(database, args.requests, args.rounds)
        if "error" in result:
            print(f"{database}: {result['error']}")
            continue
        ratio = result["with"] / result["without"]
        print(
            f"{result['vendor']:<11} without {result['without'] * 1e6:7,.0f} us  "
            f"with {result['with'] * 1e6:7,.0f} us  ratio {ratio:.2f}  "
            f"(+{(result['with'] - result['without']) * 1e6:,.0f} us, "
            f"{result['events']} events stored)"
        )


if __name__ == "__main__":
    main()
