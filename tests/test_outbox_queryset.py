"""The outbox QuerySet: the one place that says which rows are due or held."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dengage_django import outbox
from dengage_django.models import OutboxEvent

pytestmark = pytest.mark.django_db
Status = OutboxEvent.Status


def row(status=Status.PENDING, *, at=0, owner=""):
    return OutboxEvent.objects.create(
        name="PAGE_VIEW",
        payload={},
        status=status,
        lease_owner=owner,
        next_attempt_at=timezone.now() + timedelta(seconds=at),
    )


def test_due_is_pending_past_its_time_and_expired_leases():
    due = {row(at=-5).pk, row(Status.IN_FLIGHT, at=-5, owner="w").pk}
    row(at=60)  # backing off
    row(Status.IN_FLIGHT, at=60, owner="w")  # a live lease
    row(Status.DEAD, at=-5)
    row(Status.SENT, at=-5)
    row(Status.INVALID, at=-5)
    assert set(OutboxEvent.objects.due().values_list("id", flat=True)) == due
    assert outbox.due_count() == 2


def test_held_by_is_in_flight_under_that_token_only():
    mine = row(Status.IN_FLIGHT, at=60, owner="me")
    row(Status.IN_FLIGHT, at=60, owner="other")
    row(Status.PENDING, owner="me")  # released: no longer held
    assert list(OutboxEvent.objects.held_by("me")) == [mine]
    assert list(OutboxEvent.objects.held_by("me", [mine.pk + 100])) == []


def test_oldest_pending_counts_pending_rows_due_or_not():
    assert OutboxEvent.objects.oldest_pending() is None
    first = row(at=3600)
    row()
    assert OutboxEvent.objects.oldest_pending() == first.created_at


def test_make_due_clears_back_off_but_leaves_live_leases():
    waiting, leased = row(at=600), row(Status.IN_FLIGHT, at=600, owner="w")
    assert outbox.make_due(OutboxEvent.objects.filter(pk__in=[waiting.pk, leased.pk])) == 1
    leased.refresh_from_db()
    assert leased.status == Status.IN_FLIGHT and leased.next_attempt_at > timezone.now()
