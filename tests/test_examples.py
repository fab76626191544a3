"""The examples run as written (the quick start in its --quick form)."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_runs_and_prints_every_model():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--quick"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    for name in (
        "skimb defaults",
        "LogisticRegression(balanced)",
        "SMOTE + skorch MLP",
    ):
        assert f"| {name} |" in out
    assert "threshold_=" in out
