"""send_dengage_outbox options the main command tests do not reach:
numbers that are not numbers, the progress bar under --limit, --loop run
in-process, and the command called from a thread other than the main one
(where signal handlers cannot be installed)."""

import io
import signal
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

import dengage_django
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db


def record(n):
    for i in range(n):
        dengage_django.track("PAGE_VIEW", userId=f"u{i}", sessionId="s", category="Home Page")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--limit", "ten"], "'ten' is not a number"),
        (["--interval", "1s"], "'1s' is not a number"),
        (["--batch-size", "2.5"], "'2.5' is not a number"),
    ],
)
def test_an_option_that_is_not_a_number_is_refused_by_name(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("send_dengage_outbox", *args, stdout=io.StringIO())


def test_progress_bar_counts_up_to_the_limit_not_everything_due(fake_server):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    record(5)
    out = Terminal()
    call_command("send_dengage_outbox", "--limit", "3", "--batch-size", "2", stdout=out)
    text = out.getvalue()
    assert "] 3/3 sent 3" in text
    assert "/5" not in text
    assert OutboxEvent.objects.filter(status="pending").count() == 2


def test_loop_in_process_prints_a_line_per_run_and_ends_at_its_limit(fake_server):
    record(3)
    out = io.StringIO()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    call_command("send_dengage_outbox", "--loop", "--limit", "3", "--interval", "0.01", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "sent 3, retrying 0, dead 0"
    assert lines[-1].startswith("sent 3, retrying 0, dead 0, invalid 0")
    # The graceful-stop handlers were put back.
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers


@pytest.mark.django_db(transaction=True)  # the thread has a connection of its own
def test_the_command_runs_from_a_thread_that_cannot_take_signals(fake_server):
    record(2)
    out = io.StringIO()
    failures = []

    def run():
        try:
            call_command("send_dengage_outbox", stdout=out)
        except BaseException as exc:  # reported to the test thread below
            failures.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert failures == []
    assert out.getvalue().startswith("sent 2,")
