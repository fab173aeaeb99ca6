"""pytest fixtures for testing a shop that uses dengage-django.

pytest loads this plugin by itself once dengage-django is installed (entry
point ``pytest11``: ``dengage_django``); ``-p no:dengage_django`` turns it
off. It does nothing until a test asks for one of its fixtures: no autouse
fixture, no hook, and importing it imports neither Django nor the app's
models (pytest loads plugins before Django is set up).

``dengage_events``
    A :class:`~dengage_django.testing.CapturedEvents` of the events the test
    records; ids are local meanwhile (``DENGAGE_ID_SOURCE = "local"``), so
    nothing reaches the network. With pytest-django installed it requests
    the ``db`` fixture, so the test has database access (``transactional_db``
    or ``@pytest.mark.django_db(transaction=True)`` still take precedence);
    without pytest-django, the test must give it database access itself.
``dengage_client``
    A ``django.test.Client`` whose requests carry a desktop browser's
    User-Agent (:func:`~dengage_django.testing.browser_client`): Django's
    client sends none, and requests without one are treated as bots.
``dengage_server``
    A running :class:`~dengage_django.testing.FakeDengageServer`, with
    ``DENGAGE_DATA_CENTER_URL``, ``DENGAGE_API_KEY`` and ``DENGAGE_ORIGIN``
    pointing at it for the test; stopped afterwards.

Example::

    def test_product_page(dengage_client, dengage_events):
        dengage_client.get("/products/42/")
        dengage_events.one("PRODUCT_VIEW", productId="42")
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from django.test import Client

    from .capture import CapturedEvents
    from .server import FakeDengageServer

#: Whether pytest-django is installed (looked up without importing it).
HAS_PYTEST_DJANGO = importlib.util.find_spec("pytest_django") is not None


def _captured_events() -> Iterator[CapturedEvents]:
    from .capture import capture_events

    with capture_events() as captured:
        yield captured


if HAS_PYTEST_DJANGO:
    # ``db`` must be a static dependency: pytest-django creates the test
    # databases only for the tests that ask for them before they run.
    @pytest.fixture
    def dengage_events(db: None) -> Iterator[CapturedEvents]:
        """The events this test records (a ``CapturedEvents``); ids are local."""
        yield from _captured_events()

else:

    @pytest.fixture
    def dengage_events() -> Iterator[CapturedEvents]:
        """The events this test records (a ``CapturedEvents``); ids are local."""
        yield from _captured_events()


@pytest.fixture
def dengage_client() -> Client:
    """A ``django.test.Client`` sending a desktop Chrome User-Agent."""
    from .capture import browser_client

    return browser_client()


@pytest.fixture
def dengage_server() -> Iterator[FakeDengageServer]:
    """A ``FakeDengageServer`` the DENGAGE_* settings point at, for this test."""
    from .server import FakeDengageServer

    with FakeDengageServer() as server, server.override_settings():
        yield server
