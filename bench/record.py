"""Record cost: events stored per second by ``dengage_django.track()``.

    python bench/record.py [--events 5000] [--autocommit-events 2000]

Two ways of recording the benchmark PRODUCT_VIEW event (validation, then one
INSERT): all N inside one ``transaction.atomic()``, and one transaction per
event (autocommit, as a view without ATOMIC_REQUESTS does: each event pays
its own commit). Database: a fresh SQLite file, or DATABASE_URL (its outbox
table is emptied).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import helpers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="for one transaction")
    parser.add_argument("--autocommit-events", type=int, default=2000, help="one per transaction")
    args = parser.parse_args()

    helpers.setup_django()
    print(helpers.cpu_line(helpers.database_name()))
    helpers.reset_outbox()
    helpers.record_events(200)  # warm-up: imports, connection, caches
    helpers.reset_outbox()
    seconds = helpers.record_events(args.events)
    print(
        f"one transaction:        {args.events / seconds:7,.0f} events/s "
        f"({seconds / args.events * 1e6:,.0f} us/event, {args.events} events)"
    )
    helpers.reset_outbox()
    seconds = helpers.record_events(args.autocommit_events, per_transaction=True)
    print(
        f"one per transaction:    {args.autocommit_events / seconds:7,.0f} events/s "
        f"({seconds / args.autocommit_events * 1e6:,.0f} us/event, "
        f"{args.autocommit_events} events)"
    )


if __name__ == "__main__":
    main()
