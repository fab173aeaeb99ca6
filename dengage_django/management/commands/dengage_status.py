"""``manage.py dengage_status``: is the outbox draining?

Thin by design; the queries live in :mod:`dengage_django.status`. Prints
readable lines, or one JSON object with ``--json``. Exit status: 0 when
healthy, 1 when the oldest due event has waited longer than ``--max-age``
seconds (default ``DENGAGE_STATUS_MAX_AGE``), or, with ``--fail-on-dead``,
when any event is dead. The reasons go to stderr; stdout keeps the report.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from ... import status
from ...conf import dengage_settings
from ..arguments import non_negative_float

UNHEALTHY_EXIT = 1


class Command(BaseCommand):
    help = "Show the Dengage outbox's state; exit 1 when events wait too long to be sent."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--max-age",
            type=non_negative_float,
            metavar="SECONDS",
            help="fail when the oldest due event has waited longer than this "
            "(default DENGAGE_STATUS_MAX_AGE, 900)",
        )
        parser.add_argument(
            "--fail-on-dead", action="store_true", help="also fail when any event is dead"
        )

    def handle(self, *args, **options):
        max_age = options["max_age"]
        if max_age is None:
            max_age = float(dengage_settings.STATUS_MAX_AGE)
        snapshot = status.collect()
        problems = status.problems(snapshot, max_age=max_age, fail_on_dead=options["fail_on_dead"])
        if options["json"]:
            report = snapshot.as_dict()
            report.update(max_age=max_age, healthy=not problems, problems=problems)
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for line in status.lines(snapshot):
                self.stdout.write(line)
            self.stdout.write("status: " + ("FAILING" if problems else "OK"))
        if problems:
            raise CommandError("; ".join(problems), returncode=UNHEALTHY_EXIT)
