"""Retention per status: sent, dead and invalid events are deleted once
older than their setting (``None`` keeps them), by the command's purge
options and by the sender after a run (every ten minutes when looping)."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dengage_django import outbox
from dengage_django.checks import VALIDATORS
from dengage_django.conf import DEFAULTS
from dengage_django.delivery import sender as delivery
from dengage_django.delivery.sender import Sender
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status


def make(status, days_old, n=1):
    """``n`` events of ``status`` recorded ``days_old`` days ago."""
    created = timezone.now() - timedelta(days=days_old)
    rows = [
        outbox.new_event(
            "PAGE_VIEW",
            {"name": "PAGE_VIEW", "userId": f"{status}-{days_old}-{i}", "sessionId": "s"},
        )
        for i in range(n)
    ]
    for row in rows:
        row.status, row.created_at = status, created
    OutboxEvent.objects.bulk_create(rows)


def left():
    return sorted(
        (status, user_id.split("-")[1])
        for status, user_id in OutboxEvent.objects.values_list("status", "user_id")
    )


def every_status(days_old):
    for status in Status:
        make(status, days_old)


def test_purge_deletes_one_status_older_than_the_days_given(monkeypatch):
    monkeypatch.setattr(outbox, "DELETE_CHUNK", 2)
    make(Status.DEAD, 40, n=5)
    every_status(10)
    assert outbox.purge(Status.DEAD, 30) == 5
    assert outbox.purge(Status.INVALID, 30) == 0
    assert outbox.purge(Status.INVALID, 7) == 1
    assert left() == sorted(
        [(s, "10") for s in ("pending", "in_flight", "sent", "dead")],
    )


@pytest.mark.parametrize("status", [Status.PENDING, Status.IN_FLIGHT])
def test_open_events_are_never_purged(status):
    make(status, 400)
    with pytest.raises(ValueError, match="sent, dead, invalid"):
        outbox.purge(status, 1)
    assert OutboxEvent.objects.count() == 1


def test_defaults_keep_dead_events_90_days_and_invalid_ones_30():
    assert DEFAULTS["DEAD_RETENTION_DAYS"] == 90
    assert DEFAULTS["INVALID_RETENTION_DAYS"] == 30
    for days in (20, 60, 100):
        every_status(days)
    # Sent and invalid ones of 60 and 100 days, the dead one of 100.
    assert Sender().purge(force=True) == 5
    assert left() == sorted(
        [(s, d) for s in ("pending", "in_flight") for d in ("20", "60", "100")]
        + [("sent", "20"), ("invalid", "20"), ("dead", "20"), ("dead", "60")]
    )


def test_each_retention_setting_and_none_keeps(settings):
    settings.DENGAGE_RETENTION_DAYS = None
    settings.DENGAGE_DEAD_RETENTION_DAYS = 7
    settings.DENGAGE_INVALID_RETENTION_DAYS = None
    every_status(10)
    assert Sender().purge(force=True) == 1
    assert ("dead", "10") not in left()
    assert len(left()) == 4


def test_nothing_to_keep_track_of_when_every_status_is_kept(settings, monkeypatch):
    for name in ("RETENTION_DAYS", "DEAD_RETENTION_DAYS", "INVALID_RETENTION_DAYS"):
        setattr(settings, "DENGAGE_" + name, None)
    monkeypatch.setattr(outbox, "purge", lambda *args: pytest.fail("purged"))
    assert Sender().purge(force=True) == 0


def test_a_looping_sender_purges_every_status_at_most_every_ten_minutes(settings, monkeypatch):
    settings.DENGAGE_RETENTION_DAYS = 1
    settings.DENGAGE_DEAD_RETENTION_DAYS = 2
    settings.DENGAGE_INVALID_RETENTION_DAYS = 3
    calls = []
    monkeypatch.setattr(outbox, "purge", lambda status, days: calls.append((status, days)) or 0)
    sender = Sender()
    sender.purge()
    sender.purge()
    assert calls == [("sent", 1), ("dead", 2), ("invalid", 3)]
    monkeypatch.setattr(delivery, "PURGE_EVERY", 0.0)
    sender.purge()
    assert len(calls) == 6


def run(*args):
    out = io.StringIO()
    call_command("send_dengage_outbox", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_commands_purge_options_cover_dead_and_invalid_events(fake_server, settings):
    for name in ("RETENTION_DAYS", "DEAD_RETENTION_DAYS", "INVALID_RETENTION_DAYS"):
        setattr(settings, "DENGAGE_" + name, None)  # only the options purge
    every_status(10)
    every_status(40)
    out = run("--purge-dead-older-than", "30", "--purge-invalid-older-than", "5", "--dry-run")
    assert "Purged 1 dead events older than 30 days." in out
    assert "Purged 2 invalid events older than 5 days." in out
    assert left() == sorted(
        [(s, d) for s in ("pending", "in_flight", "sent") for d in ("10", "40")] + [("dead", "10")]
    )


def test_a_run_of_the_command_applies_every_retention(fake_server, settings):
    settings.DENGAGE_RETENTION_DAYS = 7
    settings.DENGAGE_DEAD_RETENTION_DAYS = 14
    settings.DENGAGE_INVALID_RETENTION_DAYS = 3
    every_status(10)
    run()
    assert left() == [("dead", "10")]  # pending and in_flight ones were sent by the run


@pytest.mark.parametrize("name", ["DEAD_RETENTION_DAYS", "INVALID_RETENTION_DAYS"])
def test_the_settings_are_checked(name):
    validate = VALIDATORS[name]
    assert validate(name, None) == [] and validate(name, 30) == []
    assert [m.id for m in validate(name, 0)] == ["dengage_django.E011"]
    assert [m.id for m in validate(name, "30")] == ["dengage_django.E008"]
