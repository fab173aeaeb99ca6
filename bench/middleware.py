"""Request cost: the same product page with and without DengageMiddleware.

    python bench/middleware.py [--requests 2000]

A returning visitor (cookies kept) requests a product page (which shows the
login state, so it reads the session like any shop page) through Django's
test client; the page renders the dengage tags, so with the middleware each
request stores a PRODUCT_VIEW and a PAGE_VIEW. Both stacks are measured in
alternating rounds in one run; the ratio is with / without. Database:
SQLite file, or DATABASE_URL.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings

    from dengage_django.models import OutboxEvent

    call_command("migrate", verbosity=0)
    OutboxEvent.objects.all().delete()
    stacks = {
        "without": settings.BASE_MIDDLEWARE,
        "with": [*settings.BASE_MIDDLEWARE, "dengage_django.middleware.DengageMiddleware"],
    }
    per_round = max(args.requests // args.rounds, 1)
    timings = {name: [] for name in stacks}
    for round_number in range(args.rounds + 1):
        for name, middleware in stacks.items():
            with override_settings(MIDDLEWARE=middleware):
                client = Client(headers={"user-agent": DESKTOP})
                client.get("/p/1/")  # the visitor has cookies and a session
                started = time.perf_counter()
                for _ in range(per_round):
                    response = client.get("/p/1/")
                    assert response.status_code == 200
                elapsed = time.perf_counter() - started
            if round_number:  # the first round warms up
                timings[name].append(elapsed / per_round)
    recorded = OutboxEvent.objects.count()
    without = statistics.median(timings["without"])
    with_mw = statistics.median(timings["with"])
    print(f"cpus: {os.cpu_count()}  database: {connection.vendor}  requests: {args.requests} each")
    print(f"without middleware: {without * 1e6:,.0f} us/request")
    print(f"with middleware:    {with_mw * 1e6:,.0f} us/request ({recorded} events stored)")
    print(f"ratio with/without: {with_mw / without:.2f}")


if __name__ == "__main__":
    main()
