"""Scale: drain time per event as the outbox grows, and the sender's memory.

    python bench/scale.py [--sizes 10000,100000,1000000] [--batch-size 100]

For each size N: the outbox table is emptied, N ``sent`` rows are inserted
(kept around, as in production before a purge), then N ``pending`` rows
(raw executemany in chunks, the payload ``track()`` stores), ANALYZE, then
``send_dengage_outbox`` runs as a subprocess against the fake data center
(bench/fake_dengage.py --forget, its own process). Prints the drain time,
microseconds per event (should stay flat as N grows) and the sender's peak
RSS (its VmHWM, and ``getrusage(RUSAGE_CHILDREN).ru_maxrss``). Database: a
fresh SQLite file, or DATABASE_URL (its outbox table is emptied).
"""

import argparse
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import helpers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    helpers.setup_django()
    from dengage_django.models import OutboxEvent

    print(helpers.cpu_line(helpers.database_name()))
    server = helpers.fake_dengage(forget=True)
    try:
        for size in sizes:
            helpers.reset_outbox()
            started = time.perf_counter()
            helpers.bulk_insert(size, status="sent")
            helpers.bulk_insert(size, status="pending", start=size)
            helpers.analyze()
            load = time.perf_counter() - started
            argv = [
                sys.executable,
                "-c",
                _CHILD,
                *helpers.SENDER,
                "--batch-size",
                str(args.batch_size),
            ]
            result = subprocess.run(
                argv,
                env=helpers.child_env(server.url),
                cwd=helpers.ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            peak_children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            seconds = float(re.search(r"drain seconds: ([\d.]+)", result.stdout).group(1))
            hwm_mb = int(re.search(r"VmHWM:\s+(\d+) kB", result.stdout).group(1)) / 1024
            sent = OutboxEvent.objects.filter(status="sent").count() - size
            assert sent == size, f"{sent} of {size} sent: {result.stdout[-500:]}"
            print(
                f"{size:>9,} pending (+{size:,} sent kept): drain {seconds:8.2f} s, "
                f"{seconds / size * 1e6:6.1f} us/event, {size / seconds:7,.0f} events/s, "
                f"sender peak RSS {hwm_mb:.0f} MB (children max {peak_children_mb:.0f} MB); "
                f"insert {2 * size:,} rows {load:.1f} s",
                flush=True,
            )
    finally:
        server.stop()


# The sender as a subprocess: Django's command line, timed from inside (no
# interpreter start-up), then its peak RSS from /proc.
_CHILD = """
import sys, time
sys.argv = sys.argv[1:]
import django
django.setup()
from django.core.management import call_command
started = time.perf_counter()
call_command(*sys.argv[2:])
print(f"drain seconds: {time.perf_counter() - started:.3f}")
print(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""


if __name__ == "__main__":
    main()
