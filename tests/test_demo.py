"""``make demo`` runs example_project/demo.py: it must show all six events,
the payment webhook's purchase under the buyer's userId and the staff edit
under the customer's."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dengage_django.events.validation import EVENT_NAMES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo():
    return subprocess.run(
        [sys.executable, str(ROOT / "example_project" / "demo.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def section(out, visitor):
    """The table of the visitor whose name starts with ``visitor``."""
    return out.split(f"== {visitor}")[1].split("\n==")[0]


def checks(out):
    """The demo's checks: {description: passed}."""
    lines = out.split("\nChecks:\n")[1].split("\nDemo finished")[0].splitlines()
    return {line[7:]: line.strip().startswith("ok") for line in lines}


def test_demo_shows_all_six_event_types_per_visitor(demo):
    out = demo.stdout
    assert "MISSING event types" not in demo.stderr, demo.stderr
    received = dict(re.findall(r"(\w+) (\d+)", out.split("Received: ")[1].splitlines()[0]))
    assert set(received) == set(EVENT_NAMES)
    for name in EVENT_NAMES:
        assert int(received[name]) > 0, name
    assert "== crawler (Googlebot): 0 events" in out
    assert "== outside a request: 0 events" in out
    for device, visitor in (("MOBILE", "phone"), ("TABLET", "tablet"), ("PC", "desktop")):
        assert f" {device} " in section(out, visitor)
    assert "purchase" in out and "signup deniz" in out
    seconds = float(re.search(r"Demo finished in ([\d.]+) s", out).group(1))
    assert seconds < 60


def test_the_payment_webhook_is_called_as_a_provider_would(demo):
    out = demo.stdout
    calls = re.findall(r"Payment provider, call \d: .* -> (\d+) (.*)", out)
    assert [status for status, _ in calls] == ["200", "200"], out
    assert '"already_paid": false' in calls[0][1] and '"already_paid": true' in calls[1][1]
    [webhook] = [name for name in checks(out) if name.startswith("payment webhook")]
    assert checks(out)[webhook], webhook  # 200 twice, no cookie set


def test_the_webhook_purchase_is_the_buyers(demo):
    """Once, in the desktop customer's (ayse's) table, under her userId."""
    out = demo.stdout
    [row] = [line for line in out.splitlines() if "<- payment webhook" in line]
    assert row in section(out, "desktop")
    assert " ayse " in row and "purchase" in row
    results = checks(out)
    for name in results:
        if "webhook's purchase" in name or "ayse's userId" in name:
            assert results[name], name


def test_the_staff_edit_is_the_customers(demo):
    """In the tablet customer's (deniz's) table, not the staff member's."""
    out = demo.stdout
    [row] = [line for line in out.splitlines() if "<- staff edit" in line]
    assert row in section(out, "tablet")
    assert " deniz " in row and "update deniz deniz@kaya.example.com" in row
    assert "update" not in section(out, "staff")
    results = checks(out)
    for name in results:
        if "staff edit" in name or "deniz's userId" in name:
            assert results[name], name


def test_the_demo_passes_its_checks(demo):
    assert demo.returncode == 0, demo.stderr
    assert all(checks(demo.stdout).values()), demo.stdout
