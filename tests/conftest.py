import os

import pytest

from dengage_django.testing import FakeDengageServer

# tests/oscar runs in a django-oscar shop of its own (tox environment
# "oscar": pytest tests/oscar --ds tests.oscar.settings).
if os.environ.get("DJANGO_SETTINGS_MODULE") != "tests.oscar.settings":
    collect_ignore = ["oscar"]


@pytest.fixture
def fake_server(settings):
    """A fresh fake data center, with the DENGAGE_* settings pointing at it."""
    with FakeDengageServer(
        api_key=settings.DENGAGE_API_KEY, origin=settings.DENGAGE_ORIGIN
    ) as server:
        settings.DENGAGE_DATA_CENTER_URL = server.url
        yield server


@pytest.fixture
def lenient(settings):
    settings.DENGAGE_STRICT = False
    return settings


def product_view(**extra):
    """A valid PRODUCT_VIEW's fields."""
    fields = {"userId": "u1", "sessionId": "s1", "productId": "P1", "price": "349.99"}
    fields.update(extra)
    return fields


@pytest.fixture(autouse=True)
def _closed_live_circuit():
    """The live-call circuit is per process: no test inherits another's."""
    from dengage_django.decisions import live

    live.reset()
    yield
    live.reset()
