"""Drain rate: our durable outbox against segment-analytics-python, side by side.

    python bench/drain.py [--events 20000] [--batch-size 100] [--rounds 3]
                          [--profile FILE.html]

Per round, in one run:

* ours: N PRODUCT_VIEW events recorded with ``track()`` (one transaction,
  timed on its own), then ``send_dengage_outbox`` drains them over real HTTP
  to the fake Dengage data center (``python -m dengage_django.testing``) in a
  separate process; timed from the command's start to its end;
* segment: ``segment.analytics.Client`` (host pointed at bench/segment_sink.py,
  a separate process on 127.0.0.1 answering ``200 {}``) tracks the same N
  events with the same fields, batches of the same size; timed from the
  first ``track()`` to the sink having counted all N (its in-memory queue
  holds all N: ``max_queue_size`` is raised so nothing is dropped).

Segment's time includes its ``track()`` calls (they only queue in memory);
ours excludes recording, which is the durable INSERT segment does not do and
is shown on its own line. The ratio is drain time ours/segment (median of
the rounds); below 1.0 ours is faster. ``--profile`` runs pyinstrument over
our drain of the last round and writes an HTML report. Database: a fresh
SQLite file, or DATABASE_URL (its outbox table is emptied).
"""

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import helpers


def drain_ours(server_url, batch_size, profile=None):
    from django.core.management import call_command
    from django.test import override_settings

    out = io.StringIO()
    with override_settings(DENGAGE_DATA_CENTER_URL=server_url):
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        started = time.perf_counter()
        call_command(
            "send_dengage_outbox", "--batch-size", str(batch_size), "--no-progress", stdout=out
        )
        seconds = time.perf_counter() - started
        if profiler:
            profiler.stop()
            Path(profile).write_text(profiler.output_html())
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    return seconds, out.getvalue()


def drain_segment(sink, events, batch_size):
    from segment.analytics import Client

    sink_url = sink.url
    client = Client(
        "bench-write-key",
        host=sink_url,
        max_queue_size=events + 1,
        upload_size=batch_size,
        max_retries=0,
    )
    fields = [helpers.sample_fields(i) for i in range(events)]
    started = time.perf_counter()
    for item in fields:
        client.track(
            user_id=item["userId"],
            event="PRODUCT_VIEW",
            properties={k: v for k, v in item.items() if k != "userId"},
        )
    client.flush()
    helpers.wait_until(lambda: sink.get_json("/count")["events"] >= events, timeout=120)
    seconds = time.perf_counter() - started
    client.join()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="pyinstrument HTML of our last drain")
    args = parser.parse_args()

    helpers.setup_django()
    from dengage_django.events.validation import encode_event
    from dengage_django.models import OutboxEvent

    server = helpers.fake_dengage()
    sink = helpers.ServerProcess([str(helpers.ROOT / "bench" / "segment_sink.py")])
    print(helpers.cpu_line(helpers.database_name()))
    print(f"events: {args.events}  batch size: {args.batch_size}  rounds: {args.rounds}")
    ours, segment, record = [], [], []
    try:
        for round_number in range(args.rounds):
            helpers.reset_outbox()
            record.append(helpers.record_events(args.events))
            ours_bytes = sum(
                len(encode_event(p)) + 1
                for p in OutboxEvent.objects.values_list("payload", flat=True)
            )
            last = round_number == args.rounds - 1
            seconds, output = drain_ours(
                server.url, args.batch_size, args.profile if last else None
            )
            delivered = len(server.get_json("/_fake/events"))
            assert delivered == args.events, f"ours: {delivered} of {args.events} delivered"
            _post(server.url + "/_fake/reset")
            ours.append(seconds)
            _post(sink.url + "/reset")
            segment.append(drain_segment(sink, args.events, args.batch_size))
            counted = sink.get_json("/count")
            assert counted["events"] == args.events, counted
            print(
                f"round {round_number + 1}: ours {args.events / seconds:,.0f} events/s "
                f"({seconds:.2f} s), segment {args.events / segment[-1]:,.0f} events/s "
                f"({segment[-1]:.2f} s)  [{output.strip().splitlines()[-1]}]"
            )
    finally:
        server.stop()
        sink.stop()
    ours_s, segment_s, record_s = (statistics.median(x) for x in (ours, segment, record))
    print(
        f"bytes per event on the wire: ours {ours_bytes / args.events:.0f}, "
        f"segment {counted['bytes'] / counted['events']:.0f} (its envelope adds messageId, "
        "timestamps, context)"
    )
    print(f"record (track, one transaction): {args.events / record_s:,.0f} events/s")
    for label, seconds in (("ours (send_dengage_outbox)", ours_s), ("segment", segment_s)):
        print(f"drain {label}: {args.events / seconds:,.0f} events/s ({seconds:.2f} s)")
    print(f"ratio time ours/segment: {ours_s / segment_s:.2f} (target <= 1.0)")
    print(
        f"ratio incl. our recording (record+drain)/segment: {(ours_s + record_s) / segment_s:.2f}"
    )


def _post(url):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10).read()


if __name__ == "__main__":
    main()
