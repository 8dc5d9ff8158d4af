"""Building and running the tests/diagnostics C drivers (c/*.c) for a (mode, variant), on top of
tests/core/cbuild.py: plain drivers run under LD_PRELOAD of the release/debug .so; prefixed drivers
(asan) are compiled with the variant's sanitizer flags and linked to its .so."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

HERE = Path(__file__).resolve().parent
CDIR = HERE / "c"
TESTS = HERE.parent
ROOT = TESTS.parent
BUILD = ROOT / "build" / "tests-diagnostics"
for _p in (str(TESTS), str(TESTS / "core"), str(ROOT / "tools")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import cbuild  # noqa: E402
import support  # noqa: E402  (tests/support.py, on the path cbuild sets up)

run = cbuild.run
Result = cbuild.Result
require_so = cbuild.require_so
clean_env = cbuild.clean_env
hakmem_lines = support.hakmem_lines

PLAIN_CFLAGS = ["-std=gnu11", "-O1", "-g", "-pthread", "-fno-builtin", "-Wall", "-Wno-free-nonheap-object",
                "-Wno-use-after-free", "-Wno-stringop-overflow", "-Wno-array-bounds"]


def compile_driver(name: str, mode: str | None = None, variant: str = "plain",
                   extra: Sequence[str] = ()) -> Path:
    """tests/diagnostics/c/<name>.c -> binary (plain, or linked to out/<mode>/<variant> for asan/tsan)."""
    src = CDIR / f"{name}.c"
    deps = [src, Path(__file__)]
    if variant in cbuild.SANITIZER_VARIANTS:
        so = require_so(mode, variant)
        out = BUILD / mode / variant / name
        cfl, lfl = cbuild._variant_flags(variant)
        cmd = (["gcc"] + PLAIN_CFLAGS + cfl + [f"-I{ROOT / 'include'}", str(src), str(so),
                                               f"-Wl,-rpath,{so.parent}"] + lfl + list(extra))
        deps.append(so)
    else:
        out = BUILD / "plain" / name
        cmd = ["gcc"] + PLAIN_CFLAGS + [f"-I{ROOT / 'include'}", str(src)] + list(extra)
    return support.compile_once(out, cmd, deps)


def run_preloaded(name: str, mode: str, variant: str, args: Sequence[str] = (),
                  env: Mapping[str, str] | None = None, timeout: float = 120,
                  cwd: Path | None = None) -> Result:
    exe = compile_driver(name)
    return run([str(exe), *args], cbuild.preload_env(mode, variant, env), timeout, cwd=cwd)




def hakmem_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"))
    env.pop("LD_PRELOAD", None)
    return subprocess.run([sys.executable, "-m", "hakmem.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def features(mode: str) -> dict:
    from hakmem import loader

    return dict(loader.resolve_mode(mode).features)
