"""``make demo-oscar`` (example_project/oscar/demo.py) runs and its checks
pass, in this environment's interpreter (Oscar installed)."""

import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "example_project" / "oscar" / "demo.py"


@pytest.mark.slow
def test_the_oscar_demo_passes_its_checks(tmp_path):
    result = subprocess.run(
        [sys.executable, str(DEMO)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "FAIL" not in result.stdout
    assert result.stdout.count("  ok   ") >= 18
    assert "CHECKOUT          " in result.stdout and " purchase " in result.stdout
