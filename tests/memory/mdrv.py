"""Build and run the tests/memory C drivers (see tests/core/cbuild.py for the scheme).

The drivers use tests/core/c/hakc.h: a plain build (gcc, no hakmem) runs under LD_PRELOAD for the
release and debug variants; a -DHAK_PREFIXED build is linked against the asan/tsan variant's .so.
`memdrv` prints hakmem's counters as one "STATS {json}" line, returned here parsed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Mapping, Sequence

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS / "core") not in sys.path:  # cbuild puts tests/ and tools/ on the path itself
    sys.path.insert(0, str(TESTS / "core"))

import cbuild  # noqa: E402  (tests/core/cbuild.py)

CDIR = HERE / "c"
BUILD = cbuild.ROOT / "build" / "tests-memory"


def run(name: str, mode: str, variant: str, args: Sequence[str] = (),
        env: Mapping[str, str] | None = None, timeout: float = 120) -> cbuild.Result:
    return cbuild.run_driver(name, mode, variant, args, env, timeout, src_dir=CDIR, build=BUILD,
                             deps=[Path(__file__)])


def stats(res: cbuild.Result, tag: str = "STATS") -> dict:
    for line in res.lines:
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise AssertionError(f"no {tag} line:\n{res.describe()}")


def memdrv(steps: Sequence[str], env: Mapping[str, str] | None = None, mode: str = "balanced",
           variant: str = "release", timeout: float = 120) -> tuple[dict, cbuild.Result]:
    """Run memdrv with `steps` under (mode, variant) and `env`; (stats JSON, result)."""
    res = run("memdrv", mode, variant, steps, env, timeout)
    cbuild.assert_clean(res, mode, variant, env)
    return stats(res), res


def mem(st: dict, section: str) -> dict:
    return st.get("memory", {}).get(section, {})
