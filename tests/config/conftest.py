"""Fixtures of the configuration tests (helpers live in cfgutil.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from cfgutil import ROOT, Drivers  # noqa: E402
from hakmem import loader  # noqa: E402


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """generated/<mode>/ for every mode, rendered privately (no race with a running build)."""
    out = tmp_path_factory.mktemp("generated")
    proc = subprocess.run([sys.executable, "-m", "hakmem.render", "--mode", "all", "--out", str(out)],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT / "tools")),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def driver(rendered, tmp_path_factory) -> Drivers:
    """driver(mode) -> Driver compiled against that mode's option table ('fake': hand-made)."""
    return Drivers(rendered, tmp_path_factory.mktemp("drivers"))


@pytest.fixture(scope="session")
def options():
    return loader.load_options()


@pytest.fixture(scope="session")
def modes():
    return loader.resolve_all()


