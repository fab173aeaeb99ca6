"""``manage.py dengage_status``: the outbox's health and the exit code."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from dengage_django import status
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sekrit-9f8e7d6c-key-only-for-this-test"


def event(status="pending", *, age=0.0, due_in=None, **fields):
    """A stored row recorded ``age`` seconds ago, due ``due_in`` seconds from now
    (default: due since it was recorded)."""
    now = timezone.now()
    created = now - timedelta(seconds=age)
    due = created if due_in is None else now + timedelta(seconds=due_in)
    return OutboxEvent.objects.create(
        name="PAGE_VIEW",
        payload={"name": "PAGE_VIEW", "userId": "u", "sessionId": "s"},
        status=status,
        created_at=created,
        next_attempt_at=due,
        **fields,
    )


def run(*args):
    """``(returncode, stdout, error message)`` of one in-process run."""
    out = StringIO()
    try:
        call_command("dengage_status", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), ""


def run_json(*args):
    code, out, error = run("--json", *args)
    return code, json.loads(out), error


def test_empty_outbox_is_healthy():
    code, out, _ = run()
    assert code == 0
    assert "status: OK" in out
    assert "last success: never" in out
    assert "oldest due event: none" in out


def test_fresh_due_event_is_healthy():
    event(age=5)
    code, report, _ = run_json()
    assert code == 0
    assert report["due"] == 1 and report["counts"]["pending"] == 1
    assert 4 <= report["oldest_due_age"] < 60
    assert report["healthy"] is True and report["problems"] == []


def test_old_due_event_exits_1():
    event(age=1000)
    code, out, error = run()
    assert code == 1
    assert "status: FAILING" in out
    assert "oldest due event has waited 16 min" in error


def test_max_age_option_and_setting(settings):
    event(age=100)
    assert run()[0] == 0  # the default, 900 seconds
    assert run("--max-age", "60")[0] == 1
    assert run("--max-age", "200")[0] == 0
    settings.DENGAGE_STATUS_MAX_AGE = 60
    assert run()[0] == 1
    assert run("--max-age", "200")[0] == 0


def test_max_age_must_not_be_negative():
    with pytest.raises(CommandError, match="max-age"):
        call_command("dengage_status", "--max-age", "-1")


def test_age_counts_from_when_the_event_became_due():
    # Recorded long ago, retried, due again only 10 seconds ago: the sender is
    # keeping up, so the check passes; the pending age still shows it.
    event(age=7200, attempts=3)
    OutboxEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=10))
    code, report, _ = run_json()
    assert code == 0
    assert 9 <= report["oldest_due_age"] < 60
    assert report["oldest_pending_age"] >= 7200


def test_events_not_due_yet_do_not_fail():
    event(age=5000, due_in=600, attempts=2)
    code, report, _ = run_json()
    assert code == 0
    assert report["due"] == 0 and report["oldest_due_at"] is None
    assert report["oldest_pending_age"] >= 5000


def test_expired_lease_is_due_a_live_one_is_not():
    live = event("in_flight", age=3000, due_in=30, lease_owner="w1")
    code, report, _ = run_json()
    assert code == 0 and report["due"] == 0
    OutboxEvent.objects.filter(pk=live.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1000)
    )
    code, report, _ = run_json()
    assert code == 1
    assert report["due"] == 1 and report["oldest_due_age"] >= 1000
    assert report["oldest_pending_at"] is None  # in flight, not pending


def test_fail_on_dead():
    event("dead", age=10, attempts=20, last_error="gave up after 20 attempts: HTTP 503")
    code, report, _ = run_json()
    assert code == 0 and report["dead"] == 1
    code, report, error = run_json("--fail-on-dead")
    assert code == 1
    assert report["healthy"] is False
    assert "1 dead events" in error and report["problems"] == [error]


def test_json_report():
    sent_at = timezone.now() - timedelta(seconds=30)
    event("sent", age=60, sent_at=sent_at - timedelta(seconds=100))
    event("sent", age=50, sent_at=sent_at)
    event("invalid", age=20, last_error="bad device")
    event(age=2000)
    code, report, error = run_json()
    assert code == 1 and error
    assert report["counts"] == {"pending": 1, "in_flight": 0, "sent": 2, "dead": 0, "invalid": 1}
    assert report["invalid"] == 1 and report["dead"] == 0
    assert report["last_sent_at"] == sent_at.isoformat()
    assert 29 <= report["last_sent_age"] < 90
    assert report["oldest_due_age"] >= 2000
    assert report["max_age"] == 900
    assert report["healthy"] is False and len(report["problems"]) == 1
    # The invalid row's validation error is not a delivery error.
    assert report["last_error"] is None


def test_text_report_lines():
    event("sent", age=60, sent_at=timezone.now())
    event("dead", age=10, last_error="rejected: BAD_INPUT")
    code, out, _ = run()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Dengage outbox at ")
    assert "  sent       1" in lines and "  dead       1" in lines
    assert any(line.startswith("last success: 0 s ago (") for line in lines)
    assert f"last error: event #{OutboxEvent.objects.get(status='dead').pk} (dead): " in out
    assert lines[-1] == "status: OK"


def test_last_error_is_the_newest_event_with_an_error():
    event("dead", age=100, last_error="rejected: BAD_INPUT")
    newest = event(age=50, attempts=1, due_in=60, last_error="HTTP 503 from the data center")
    event(age=10)  # newer, but no error
    event("sent", age=5, sent_at=timezone.now(), last_error="stale")
    _, report, _ = run_json()
    assert report["last_error"] == {
        "event_id": newest.pk,
        "status": "pending",
        "error": "HTTP 503 from the data center",
    }


def test_last_error_is_redacted(settings):
    settings.DENGAGE_API_KEY = SECRET
    event(
        age=10,
        attempts=1,
        last_error=f"ConnectionError: https://dc.example/add/events/v1.json?apiKey={SECRET} "
        f"(key {SECRET}); other=https://x.example/?apiKey=not-the-configured-one",
    )
    code, out, _ = run()
    _, report, _ = run_json()
    assert code == 0
    assert SECRET not in out and SECRET not in json.dumps(report)
    assert "not-the-configured-one" not in out
    assert "[REDACTED]" in report["last_error"]["error"]
    assert "last error: event #" in out and "[REDACTED]" in out


def test_long_errors_are_cut_after_redaction(settings):
    settings.DENGAGE_API_KEY = SECRET
    # The key straddles the cut: cutting first would leave part of it.
    padding = "x" * (status.MAX_ERROR_LENGTH - 20)
    event(age=1, attempts=1, last_error=padding + SECRET + "y" * 1000)
    _, report, _ = run_json()
    error = report["last_error"]["error"]
    assert len(error) == status.MAX_ERROR_LENGTH
    assert SECRET[:10] not in error
    assert error.startswith(padding + "[REDACTED]yyy") and error.endswith("…")


def test_collect_takes_a_fixed_number_of_queries(django_assert_num_queries):
    for i in range(20):
        event(["pending", "sent", "dead", "in_flight"][i % 4], age=i, last_error=f"e{i}")
    with django_assert_num_queries(6):
        snapshot = status.collect()
    assert sum(snapshot.counts.values()) == 20


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0 s"), (59.4, "59 s"), (95, "1 min"), (3600, "1 h"), (49 * 3600, "2 d 1 h")],
)
def test_format_age_in_the_status_lines(seconds, text):
    assert status.format_age(seconds) == text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_exit_status_of_the_process():
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="tests.settings",
        DENGAGE_TEST_DB_NAME=connection.settings_dict["NAME"],
    )

    def status_process(*args):
        return subprocess.run(
            [sys.executable, "-m", "django", "dengage_status", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    event(age=120)
    healthy = status_process()
    assert healthy.returncode == 0, healthy.stderr
    assert "status: OK" in healthy.stdout
    failing = status_process("--json", "--max-age", "60")
    assert failing.returncode == 1
    assert json.loads(failing.stdout)["healthy"] is False
    assert "oldest due event has waited" in failing.stderr
