"""``python -m dengage_django.testing``: run a fake Dengage data center alone.

It listens until Ctrl-C or SIGTERM, prints one line per event it accepts
(``--quiet`` turns that off) and answers like :class:`.FakeDengageServer`;
``--campaigns FILE`` and ``--campaign JSON`` give it campaigns to answer
(:class:`.Campaign`), ``--delay`` makes it slow; ``--help`` lists the options.
"""

import argparse
import json
import signal
import sys
import threading

from .server import DEFAULT_API_KEY, DEFAULT_ORIGIN, FakeDengageServer, parse_campaigns

#: Event fields shown, when present, by ``python -m dengage_django.testing``.
PRINTED_FIELDS = (
    "userId",
    "sessionId",
    "pageUrl",
    "category",
    "productId",
    "basketId",
    "orderNo",
    "type",
    "instanceId",
    "interactionId",
    "query",
)


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
    parser.add_argument(
        "--campaigns",
        action="append",
        default=[],
        metavar="FILE",
        help="a JSON file of campaigns to answer: one object or a list (repeatable)",
    )
    parser.add_argument(
        "--campaign",
        action="append",
        default=[],
        metavar="JSON",
        help='a campaign as JSON, e.g. \'{"instance_id": "also", "sources": '
        '["RECOMMENDATION_COLLABORATIVE"]}\' (repeatable)',
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before answering each events POST (default: 0)",
    )
    parser.add_argument(
        "--success-status-code",
        metavar="CODE",
        help="the statusCode of a success answer, e.g. SUCCESS (default: none, as the guide)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.delay < float("inf"):
        parser.error(f"--delay must be a number of seconds at least 0, not {args.delay}")
    args.campaign_list = _campaigns(parser, args)
    return args


def _campaigns(parser, args):
    """The campaigns of ``--campaigns`` files, then of ``--campaign`` options."""
    sources = []
    for path in args.campaigns:
        try:
            with open(path, encoding="utf-8") as file:
                sources.append((f"--campaigns {path}", file.read()))
        except OSError as error:
            parser.error(f"--campaigns: cannot read {path}: {error.strerror}")
    sources.extend(("--campaign", text) for text in args.campaign)
    campaigns = []
    for option, text in sources:
        try:
            data = json.loads(text)
        except ValueError as error:
            parser.error(f"{option}: not JSON: {error}")
        try:
            campaigns.extend(parse_campaigns(data))
        except ValueError as error:
            parser.error(f"{option}: {error}")
    return campaigns


def _describe_campaign(campaign):
    """One line about a campaign: what it answers and where its products come from."""
    where = ", ".join(campaign.events)
    if campaign.page_categories is not None:
        where += f" in {', '.join(campaign.page_categories)}"
    sources = [f"{source.key} x{source.item_count}" for source in campaign.sources]
    if campaign.static_products:
        sources.append(f"{len(campaign.static_products)} static")
    return (
        f"Campaign {campaign.instance_id} (actionId {campaign.action_id}) on {where}: "
        f"{campaign.title!r} from {', '.join(sources) or 'nothing'}"
    )


def main(argv=None):
    """Serve until Ctrl-C or SIGTERM; return the exit status."""
    args = _parse_args(argv)
    server = FakeDengageServer(
        api_key=args.api_key,
        origin=args.origin,
        host=args.host,
        port=args.port,
        on_batch=None if args.quiet else _print_batch,
        campaigns=args.campaign_list,
        delay=args.delay,
        success_status_code=args.success_status_code or None,
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
        for campaign in server.campaigns:
            print(_describe_campaign(campaign), flush=True)
        while not stopping.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
