"""Rule 12: a shop's tests never reach the network for ids."""

import pytest
from django.test import Client

from dengage_django.models import OutboxEvent
from dengage_django.tracking import ids

pytestmark = pytest.mark.django_db


def test_force_login_with_a_remote_data_center_uses_local_ids(settings, alice):
    # The real data center: never asked in a test run.
    settings.DENGAGE_ID_SOURCE = "dengage"
    settings.DENGAGE_DATA_CENTER_URL = "https://dce1.segmentify.com"
    ids.key_pool().clear()
    before = ids.key_pool().fetches
    Client().force_login(alice)
    [signin] = OutboxEvent.objects.filter(name="USER_OPERATIONS")
    assert signin.payload["step"] == "signin"
    assert ids.key_pool().fetches == before  # /get/key never asked
    assert len(signin.payload["userId"]) == 32  # a local id


def test_a_loopback_fake_data_center_may_hand_out_ids(settings, fake_server):
    settings.DENGAGE_ID_SOURCE = "dengage"
    ids.key_pool().clear()
    try:
        ids.new_ids(2)  # local ids at once, and a refill
        ids.key_pool().wait(5)
        fresh = ids.new_ids(2)
    finally:
        ids.key_pool().clear()
    assert set(fresh) <= set(fake_server.issued_keys)


def test_no_data_center_means_local_ids(settings):
    settings.DENGAGE_ID_SOURCE = "dengage"
    settings.DENGAGE_DATA_CENTER_URL = ""
    before = ids.key_pool().fetches
    assert len(ids.new_ids(1)[0]) == 32
    assert ids.key_pool().fetches == before
