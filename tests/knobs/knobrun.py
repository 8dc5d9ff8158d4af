"""Run the knob-effect workloads (tests/knobs/c/<workload>.c) under a mode's release .so.

    compile_workload(name)          build/tests-knobs/<name> (plain gcc, no hakmem; rebuilt when stale)
    run_workload(name, mode, env)   Run: stats JSON (HAKMEM_STATS_FILE), stderr, files it created
    observe(run, effect)            the value an effect's `observe` names in one run
    holds(effect, default, set)     (ok, why): does the expectation hold between the two observations

Each run gets a fresh working directory (so `file:` effects see only what that run created); the
stats file is written outside it.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS / "core") not in sys.path:  # cbuild puts tests/ and tools/ on the path itself
    sys.path.insert(0, str(TESTS / "core"))

import cbuild  # noqa: E402  (tests/core/cbuild.py: compile flags, process-group runs)
import support  # noqa: E402  (tests/support.py: compile_once)

CDIR = HERE / "c"
BUILD = cbuild.ROOT / "build" / "tests-knobs"
TIMEOUT = 60.0
STATS_NAME = "stats.json"


def compile_workload(name: str) -> Path:
    src = CDIR / f"{name}.c"
    deps = [src, CDIR / "kw.h", Path(__file__)]
    out = BUILD / name
    cmd = ["gcc"] + cbuild.BASE_CFLAGS + [f"-I{CDIR}", str(src), "-ldl"]
    return support.compile_once(out, cmd, deps)


@dataclass
class Run:
    env: dict[str, str]
    result: cbuild.Result
    stats: dict | None
    files: list[str]          # names created in the working directory

    def describe(self) -> str:
        return self.result.describe(" ".join(f"{k}={v}" for k, v in self.env.items()) + " ")


def run_workload(name: str, mode: str, env: Mapping[str, str] | None = None) -> Run:
    """Run one workload under out/<mode>/release/libhakmem.so with HAKMEM_STATS_FILE set."""
    exe = compile_workload(name)
    with tempfile.TemporaryDirectory(prefix="knob-") as tmp:
        cwd, side = Path(tmp) / "cwd", Path(tmp) / "side"
        cwd.mkdir()
        side.mkdir()
        extra = {"HAKMEM_STATS_FILE": str(side / STATS_NAME)}
        extra.update(env or {})
        full = cbuild.preload_env(mode, "release", extra)
        res = cbuild.run([str(exe)], full, TIMEOUT, cwd=cwd)
        stats = None
        sf = side / STATS_NAME
        if sf.exists():
            try:
                stats = json.loads(sf.read_text())
            except ValueError:
                stats = None
        files = sorted(p.name for p in cwd.iterdir())
    return Run(dict(env or {}), res, stats, files)


# --------------------------------------------------------------------------- observing

_ID_FIELDS = ("name", "class", "tier")


def lookup(doc: Any, path: str) -> Any:
    """A dotted path in the stats JSON. In a list, a segment names the element whose `name`,
    `class` or `tier` is that text (or, failing that, the index); `*` sums the rest of the path
    over every element (missing ones count 0). KeyError when the path leads nowhere."""
    parts = path.split(".")

    def walk(node: Any, i: int) -> Any:
        if i == len(parts):
            return node
        seg = parts[i]
        if isinstance(node, dict):
            if seg not in node:
                raise KeyError(f"{'.'.join(parts[:i + 1])}: no such key (have {', '.join(node)})")
            return walk(node[seg], i + 1)
        if isinstance(node, list):
            if seg == "*":
                total = 0
                for el in node:
                    try:
                        v = walk(el, i + 1)
                    except KeyError:
                        continue
                    total += _number(v)
                return total
            for el in node:
                if isinstance(el, dict) and any(str(el.get(f)) == seg for f in _ID_FIELDS if f in el):
                    return walk(el, i + 1)
            if seg.isdigit() and int(seg) < len(node):
                return walk(node[int(seg)], i + 1)
            raise KeyError(f"{'.'.join(parts[:i + 1])}: no list element named {seg!r}")
        raise KeyError(f"{'.'.join(parts[:i])} is a value, not an object")

    return walk(doc, 0)


def _number(v: Any) -> float:
    if isinstance(v, Missing):
        return 0.0
    if isinstance(v, (list, dict)):
        return float(len(v))           # a list's or object's size (e.g. `intervals`)
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if v is None:
        return 0.0
    raise KeyError(f"{v!r} is not a number")


class Missing:
    """A stats path absent from one run's JSON (an optional section): counts as 0 / differs."""

    def __init__(self, why: str):
        self.why = why

    def __repr__(self) -> str:
        return "(absent)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Missing)


def observe(run: Run, eff) -> Any:
    """What `eff.observe` names in `run`: a stats value (Missing when the path is absent), or
    whether the regex matched."""
    if eff.kind == "stderr":
        return re.search(eff.target, run.result.stderr, re.M) is not None
    if eff.kind == "file":
        rx = re.compile(eff.target)
        return any(rx.search(f) for f in run.files)
    if run.stats is None:
        raise AssertionError(f"no stats JSON from the run:\n{run.describe()}")
    try:
        return lookup(run.stats, eff.target)
    except KeyError as exc:
        return Missing(str(exc))


def holds(eff, base: Any, new: Any) -> bool:
    if eff.expect == "matches":
        return bool(new) and not bool(base)
    if eff.expect == "differs":
        return base != new if not isinstance(base, (list, dict)) else _number(base) != _number(new)
    a, b = _number(base), _number(new)
    return b > a if eff.expect == "increases" else b < a
