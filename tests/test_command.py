"""manage.py send_dengage_outbox, called in-process."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import dengage_django
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

KEY = "11111111-2222-3333-4444-555555555555"


def record(n):
    for i in range(n):
        dengage_django.track("PAGE_VIEW", userId=f"u{i}", sessionId="s", category="Home Page")


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("send_dengage_outbox", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_sends_and_prints_a_summary(fake_server, lenient):
    record(12)
    dengage_django.track("PAGE_VIEW", userId="u", sessionId="s", device="FRIDGE")
    out, _ = run("--batch-size", "5")
    assert out.splitlines()[-1] == (
        "sent 12, retrying 0, dead 0, invalid 1 (outbox now: 0 pending, 0 in flight, 0 dead)"
    )
    assert [len(batch) for batch in fake_server.batches] == [5, 5, 2]


def test_limit(fake_server):
    record(12)
    out, _ = run("--limit", "7")
    assert out.startswith("sent 7,")
    assert OutboxEvent.objects.filter(status="pending").count() == 5


def test_dry_run_sends_and_changes_nothing(fake_server):
    record(3)
    out, _ = run("--dry-run")
    assert "Dry run: 3 events due" in out
    assert "PAGE_VIEW: 3" in out
    assert fake_server.requests == []
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("pending", 0)}


def test_requeue_dead_then_send(fake_server):
    record(2)
    OutboxEvent.objects.update(status="dead", attempts=20, last_error="HTTP 500")
    out, _ = run("--requeue-dead")
    assert out.startswith("Requeued 2 dead events.")
    assert OutboxEvent.objects.filter(status="sent").count() == 2


def test_purge_sent_older_than(fake_server):
    record(3)
    OutboxEvent.objects.update(status="sent", created_at=timezone.now() - timedelta(days=40))
    out, _ = run("--purge-sent-older-than", "30")
    assert "Purged 3 sent events older than 30 days." in out
    assert OutboxEvent.objects.count() == 0


def test_configuration_error_exits_2_and_keeps_events(fake_server):
    record(3)
    fake_server.set_api_key("another")
    with pytest.raises(CommandError) as info:
        run()
    assert info.value.returncode == 2
    assert "NO_ACCOUNT" in str(info.value) and "Every event is kept" in str(info.value)
    assert KEY not in str(info.value)
    assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("pending", 0)}


def test_missing_settings_exit_2(settings):
    settings.DENGAGE_API_KEY = ""
    with pytest.raises(CommandError, match="DENGAGE_API_KEY not set") as info:
        run()
    assert info.value.returncode == 2


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--limit", "-1"], ["--interval", "0"]])
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError):
        run(*args)


def test_progress_bar_on_a_terminal(fake_server):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    record(4)
    out = Terminal()
    call_command("send_dengage_outbox", "--batch-size", "2", stdout=out)
    text = out.getvalue()
    assert "\r[" in text and "] 4/4 sent 4" in text


def test_no_progress_bar_when_not_a_terminal(fake_server):
    record(2)
    out, _ = run()
    assert "\r" not in out


def test_retention_purges_old_sent_events_after_a_run(fake_server, settings):
    settings.DENGAGE_RETENTION_DAYS = 7
    record(3)
    OutboxEvent.objects.filter(user_id="u0").update(
        status="sent", created_at=timezone.now() - timedelta(days=8)
    )
    OutboxEvent.objects.filter(user_id="u1").update(
        status="dead", created_at=timezone.now() - timedelta(days=8)
    )
    run()
    # The old sent one is gone; the old dead one and the fresh one stay.
    assert sorted(OutboxEvent.objects.values_list("user_id", "status")) == [
        ("u1", "dead"),
        ("u2", "sent"),
    ]


def test_retention_none_keeps_everything(fake_server, settings):
    settings.DENGAGE_RETENTION_DAYS = None
    record(1)
    OutboxEvent.objects.update(status="sent", created_at=timezone.now() - timedelta(days=400))
    run()
    assert OutboxEvent.objects.count() == 1
