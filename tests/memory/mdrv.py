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
for p in (str(TESTS / "core"), str(TESTS), str(TESTS.parent / "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

import cbuild  # noqa: E402  (tests/core/cbuild.py)
import support  # noqa: E402  (tests/support.py, on the path cbuild sets up)

CDIR = HERE / "c"
BUILD = cbuild.ROOT / "build" / "tests-memory"


def compile_driver(name: str, mode: str | None = None, variant: str = cbuild.GLIBC) -> Path:
    src = CDIR / f"{name}.c"
    hakc = cbuild.CDIR / "hakc.h"
    deps = [src, hakc, Path(__file__)]
    if variant in cbuild.SANITIZER_VARIANTS:
        assert mode is not None
        so = cbuild.require_so(mode, variant)
        out = BUILD / mode / variant / name
        cfl, lfl = cbuild._variant_flags(variant)
        cmd = (["gcc"] + cbuild.BASE_CFLAGS + cfl +
               ["-DHAK_PREFIXED", f"-I{cbuild.ROOT / 'include'}", f"-I{cbuild.CDIR}", str(src), str(so),
                f"-Wl,-rpath,{so.parent}"] + lfl + ["-ldl"])
        deps += [so]
    else:
        out = BUILD / "plain" / name
        cmd = ["gcc"] + cbuild.BASE_CFLAGS + [f"-I{cbuild.CDIR}", str(src), "-ldl"]
    return support.compile_once(out, cmd, deps)


def run(name: str, mode: str, variant: str, args: Sequence[str] = (),
        env: Mapping[str, str] | None = None, timeout: float = 120) -> cbuild.Result:
    exe = compile_driver(name, mode, variant)
    extra = dict(env or {})
    if variant in cbuild.PRELOAD_VARIANTS:
        full = cbuild.preload_env(mode, variant, extra)
    else:
        full = cbuild.clean_env(extra)
        if variant == "asan":
            full.setdefault("ASAN_OPTIONS", cbuild.ASAN_OPTIONS)
        elif variant == "tsan":
            full.setdefault("TSAN_OPTIONS", cbuild.TSAN_OPTIONS)
    return cbuild.run([str(exe), *map(str, args)], full, timeout)


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
