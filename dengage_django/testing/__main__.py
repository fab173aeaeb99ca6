"""``python -m dengage_django.testing``: run a fake Dengage data center alone.

It listens until Ctrl-C or SIGTERM, prints one line per event it accepts
(``--quiet`` turns that off) and answers like :class:`.FakeDengageServer`;
``--help`` lists the options.
"""

import argparse
import signal
import sys
import threading

from .server import DEFAULT_API_KEY, DEFAULT_ORIGIN, FakeDengageServer

#: Event fields shown, when present, by ``python -m dengage_django.testing``.
PRINTED_FIELDS = ("userId", "sessionId", "pageUrl", "category", "productId", "basketId", "orderNo")


def _describe_event(event):
    """One line about an event: its name and main fields."""
    fields = " ".join(f"{name}={event[name]}" for name in PRINTED_FIELDS if name in event)
    return f"{event.get('name', '?')} {fields}".rstrip()


def _print_batch(batch):
    for event in batch:
        print(_describe_event(event), flush=True)


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m dengage_django.testing",
        description="Run a fake Dengage data center for local development.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port, 0 for any (default: 8765)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the API key to accept")
    parser.add_argument(
        "--origin", default=DEFAULT_ORIGIN, help='the shop origin to require; "" or "*" for any'
    )
    parser.add_argument("--quiet", action="store_true", help="do not print received events")
    return parser.parse_args(argv)


def main(argv=None):
    """Serve until Ctrl-C or SIGTERM; return the exit status."""
    args = _parse_args(argv)
    server = FakeDengageServer(
        api_key=args.api_key,
        origin=args.origin,
        host=args.host,
        port=args.port,
        on_batch=None if args.quiet else _print_batch,
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    with server:
        print(
            f"Fake Dengage data center on {server.url} "
            f"(apiKey={server.api_key}, origin={server.origin or '*'})",
            flush=True,
        )
        while not stopping.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
