"""``manage.py send_dengage_outbox``: deliver recorded events to Dengage.

Thin by design: it parses options, builds a :class:`~dengage_django.delivery.sender.Sender`
and reports. Exit status: 0 when the run finished (events that will be retried
included), 2 when sending stopped with every event kept: a configuration
error (missing setting, or Dengage refusing the API key / origin) or a data
center refusing every request as bad input (the sender's circuit breaker).
"""

import signal
import threading
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from ... import outbox
from ...conf import dengage_settings
from ...delivery.sender import Sender, preview
from ...exceptions import DengageConfigurationError
from ..arguments import positive_float, positive_int

CONFIGURATION_EXIT = 2


class Command(BaseCommand):
    help = "Send the events waiting in the Dengage outbox, in batches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            help="events per request (default DENGAGE_BATCH_SIZE, 100)",
        )
        parser.add_argument(
            "--limit", type=positive_int, help="stop after this many events were processed"
        )
        parser.add_argument(
            "--loop", action="store_true", help="keep running, sending new events as they come"
        )
        parser.add_argument(
            "--interval",
            type=positive_float,
            default=5.0,
            help="with --loop: seconds to wait once caught up (default 5)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="show what is due; send and change nothing"
        )
        parser.add_argument(
            "--requeue-dead",
            action="store_true",
            help="give dead events a fresh set of attempts before sending",
        )
        for status in outbox.FINISHED:
            parser.add_argument(
                f"--purge-{status}-older-than",
                type=positive_int,
                metavar="DAYS",
                help=f"delete {status} events older than DAYS days before sending",
            )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar, even on a terminal"
        )

    def handle(self, *args, **options):
        if options["requeue_dead"]:
            count = outbox.requeue_dead()
            self.stdout.write(f"Requeued {count} dead events.")
        for status in outbox.FINISHED:
            days = options[f"purge_{status}_older_than"]
            if days:
                count = outbox.purge(status, days)
                self.stdout.write(f"Purged {count} {status} events older than {days} days.")
        if options["dry_run"]:
            return self.dry_run(
                options["limit"] or options["batch_size"] or dengage_settings.BATCH_SIZE
            )

        self.stop_event = threading.Event()
        try:
            sender = Sender(
                batch_size=options["batch_size"],
                stop_event=self.stop_event,
                on_progress=self.progress_bar(options),
            )
        except DengageConfigurationError as exc:
            raise CommandError(str(exc), returncode=CONFIGURATION_EXIT) from None
        try:
            with self.graceful_stop():
                if options["loop"]:
                    report = sender.loop(
                        interval=options["interval"],
                        limit=options["limit"],
                        on_report=self.loop_line,
                    )
                else:
                    report = sender.drain(options["limit"])
                    sender.purge(force=True)
        finally:
            sender.client.close()
        if self._bar_shown:
            self.stdout.write("")
        self.stdout.write(self.summary(report))
        if report.configuration_error and not options["loop"]:
            raise CommandError(
                f"Sending stopped: {report.configuration_error}. "
                "Every event is kept; fix the cause and run again.",
                returncode=CONFIGURATION_EXIT,
            )

    # -- output -------------------------------------------------------------

    def summary(self, report):
        counts = outbox.counts()
        line = (
            f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}, "
            f"invalid {counts['invalid']} "
            f"(outbox now: {counts['pending']} pending, {counts['in_flight']} in flight, "
            f"{counts['dead']} dead)"
        )
        if report.mismatched:
            line += f"; {report.mismatched} sent with an answer not matching the events"
        return line

    def loop_line(self, report):
        if report.processed or report.configuration_error:
            line = f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}"
            if report.configuration_error:
                line += f"; paused: {report.configuration_error}"
            self.stdout.write(line)

    _bar_shown = False

    def progress_bar(self, options):
        if options["loop"] or options["no_progress"] or not self.stdout.isatty():
            return None
        total = outbox.due_count()
        if options["limit"]:
            total = min(total, options["limit"])

        def show(report):
            width = 30
            done = min(report.processed, total)
            filled = width * done // total if total else width
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                f"sent {report.sent} retrying {report.retrying} dead {report.dead}",
                ending="",
            )
            self.stdout.flush()
            self._bar_shown = True

        return show

    def dry_run(self, limit):
        rows = preview(limit)
        by_name = {}
        for _event_id, name, _payload in rows:
            by_name[name] = by_name.get(name, 0) + 1
        self.stdout.write(
            f"Dry run: {len(rows)} events due (showing at most {limit}); nothing sent."
        )
        for name, count in sorted(by_name.items()):
            self.stdout.write(f"  {name}: {count}")
        for event_id, name, payload in rows[:3]:
            self.stdout.write(f"  #{event_id} {name} {payload}")

    # -- signals ------------------------------------------------------------

    @contextmanager
    def graceful_stop(self):
        """SIGTERM/SIGINT finish the batch in flight, then the command exits 0."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum, frame):
            self.stderr.write(f"Signal {signum}: stopping after the batch in flight.")
            self.stop_event.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
