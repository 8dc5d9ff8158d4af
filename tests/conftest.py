"""Session-wide fixtures: `built` builds every mode x variant once (see tests/support.py)."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (str(HERE), str(HERE.parent / "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

import pytest  # noqa: E402

import support  # noqa: E402


@pytest.fixture(scope="session")
def built() -> Path:
    """Every out/<mode>/<variant>/libhakmem.so is built; returns the out/ directory."""
    support.ensure_built()
    return support.OUT
