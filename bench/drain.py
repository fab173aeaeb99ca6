"""Drain rate: N events from the outbox to a FakeDengageServer.

    python bench/drain.py [--events 20000] [--batch-size 100]

Records N PRODUCT_VIEW events with ``track()`` (one transaction), then times
``send_dengage_outbox`` delivering them over real HTTP on 127.0.0.1. Prints
events/s for recording and draining. Uses a fresh SQLite file, or the
database in DATABASE_URL (its tables are flushed).
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import override_settings

    import dengage_django
    from dengage_django.models import OutboxEvent
    from dengage_django.testing import FakeDengageServer

    call_command("migrate", verbosity=0)
    OutboxEvent.objects.all().delete()
    server = FakeDengageServer(api_key="bench-key", origin="https://shop.example.com").start()
    try:
        started = time.perf_counter()
        with transaction.atomic():
            for i in range(args.events):
                dengage_django.track(
                    "PRODUCT_VIEW",
                    userId=f"u{i % 997}",
                    sessionId=f"s{i % 997}",
                    productId=f"P{i}",
                    price="349.99",
                    device="PC",
                    pageUrl=f"https://shop.example.com/p/{i}/",
                )
        record_seconds = time.perf_counter() - started
        with override_settings(DENGAGE_DATA_CENTER_URL=server.url):
            started = time.perf_counter()
            call_command(
                "send_dengage_outbox", "--batch-size", str(args.batch_size), stdout=io.StringIO()
            )
            drain_seconds = time.perf_counter() - started
        delivered = len(server.events)
    finally:
        server.stop()
    assert delivered == args.events, f"only {delivered} of {args.events} delivered"
    print(f"cpus: {os.cpu_count()}  database: {connection.vendor}  events: {args.events}")
    print(f"record (track, one transaction): {args.events / record_seconds:,.0f} events/s")
    print(
        f"drain (batch {args.batch_size}, fake server on 127.0.0.1): "
        f"{args.events / drain_seconds:,.0f} events/s ({drain_seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()
