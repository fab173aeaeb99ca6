"""Workers: 1, 2 and 4 ``send_dengage_outbox`` processes against a slow data center.

    python bench/workers.py [--events 10000] [--delay 0.02] [--workers 1,2,4]

The fake data center (bench/fake_dengage.py, its own process; the CLI of
``python -m dengage_django.testing`` has no delay option) adds ``--delay``
seconds to every request, as a distant data center would. For each worker
count the outbox is loaded with N pending events, then that many sender
processes start at once; the time runs until the last one exits. Prints
throughput, the speed-up against one worker, and checks that every event
was sent exactly once (each ``sent`` with one attempt, the server got N).
PostgreSQL (DATABASE_URL) is the realistic backend for several workers;
SQLite (the default, a temp file) has one writer at a time.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import helpers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--workers", default="1,2,4", help="comma-separated counts")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    helpers.setup_django()
    from django.db.models import Max

    from dengage_django.models import OutboxEvent

    print(helpers.cpu_line(helpers.database_name()))
    print(
        f"events: {args.events}  batch size: {args.batch_size}  "
        f"server delay: {args.delay * 1000:.0f} ms/request"
    )
    server = helpers.fake_dengage(delay=args.delay)
    base = None
    try:
        for count in (int(n) for n in args.workers.split(",")):
            helpers.reset_outbox()
            helpers.bulk_insert(args.events)
            helpers.analyze()
            env = helpers.child_env(server.url)
            command = [sys.executable, *helpers.SENDER, "--batch-size", str(args.batch_size)]
            started = time.perf_counter()
            processes = [
                subprocess.Popen(command, env=env, cwd=helpers.ROOT, stdout=subprocess.DEVNULL)
                for _ in range(count)
            ]
            codes = [process.wait() for process in processes]
            seconds = time.perf_counter() - started
            assert codes == [0] * count, codes
            sent = OutboxEvent.objects.filter(status="sent").count()
            most = OutboxEvent.objects.aggregate(m=Max("attempts"))["m"]
            assert sent == args.events and most == 1, (sent, most)
            rate = args.events / seconds
            base = base or rate
            print(
                f"{count} worker(s): {rate:7,.0f} events/s ({seconds:.2f} s), "
                f"speed-up {rate / base:.2f}x (ideal {count}x)",
                flush=True,
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
