"""The scripts in tools/ (screenshots for the README) and benchmarks/ still import: a module they use
may move (bench_network's phase timer named engine._run for a round after it was renamed run_spec)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(ROOT.glob("tools/*.py")) + sorted(ROOT.glob("benchmarks/*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[f"{p.parent.name}/{p.stem}" for p in SCRIPTS])
def test_a_script_imports(script: Path) -> None:
    # In a child: the scripts import Qt and each other by path (sys.path), as when run.
    code = ("import importlib.util, sys; sys.path.insert(0, sys.argv[2]); "
            "spec = importlib.util.spec_from_file_location('script', sys.argv[1]); "
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))")
    done = subprocess.run([sys.executable, "-c", code, str(script), str(script.parent)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
