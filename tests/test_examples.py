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


def test_dask_search_example_runs_as_written():
    import pytest

    pytest.importorskip("distributed")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "dask_search.py")],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    assert out.startswith("best: {") and "AP 0." in out
