"""The fake Dengage data center with options its CLI lacks (bench helper).

    python bench/fake_dengage.py [--delay 0.02] [--forget]

``--delay`` adds that many seconds to every events request
(``FakeDengageServer.set_delay``); ``--forget`` drops the recorded events
after each batch so a million events do not pile up in memory. Prints the
URL on its first line, like ``python -m dengage_django.testing``, then serves
until SIGTERM.
"""

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--forget", action="store_true", help="keep no events in memory")
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--origin", default="https://shop.example.com")
    args = parser.parse_args()

    from django.conf import settings

    settings.configure(SECRET_KEY="bench-only", USE_TZ=True, INSTALLED_APPS=[])
    from dengage_django.testing import FakeDengageServer

    server = FakeDengageServer(api_key=args.api_key, origin=args.origin)
    if args.forget:
        server._on_batch = lambda batch: server.reset()
    server.set_delay(args.delay)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    with server:
        print(f"Fake Dengage data center on {server.url} (delay {args.delay}s)", flush=True)
        while not stopping.wait(0.2):
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
