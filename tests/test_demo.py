"""``make demo`` runs example_project/demo.py: it must show all six events."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dengage_django.events import EVENT_NAMES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_demo_shows_all_six_event_types_per_visitor():
    result = subprocess.run(
        [sys.executable, str(ROOT / "example_project" / "demo.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    received = dict(re.findall(r"(\w+) (\d+)", out.split("Received: ")[1].splitlines()[0]))
    assert set(received) == set(EVENT_NAMES)
    for name in EVENT_NAMES:
        assert int(received[name]) > 0, name
    assert "== crawler (Googlebot): 0 events" in out
    assert "== outside a request: 0 events" in out
    for device, visitor in (("MOBILE", "phone"), ("TABLET", "tablet"), ("PC", "desktop")):
        section = out.split(f"== {visitor}")[1].split("==")[0]
        assert f" {device} " in section
    assert "purchase" in out and "signup deniz" in out
    seconds = float(re.search(r"Demo finished in ([\d.]+) s", out).group(1))
    assert seconds < 60
