"""Building the tests/cxx drivers on top of tests/core/cbuild.py: c/*.cc with g++ (as C++23, so the
C helpers of tests/core/c/hakc.h compile), c/*.c with cbuild's plain C build. Both are plain programs:
release and debug runs put a mode's libhakmem.so under them with LD_PRELOAD."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Mapping, Sequence

import cbuild
import support
from support import hakmem_lines  # noqa: F401  (used by the tests through this module)

HERE = Path(__file__).resolve().parent
CDIR = HERE / "c"
BUILD = support.ROOT / "build" / "tests-cxx"

# -fno-allocation-dce: every new/delete the driver writes stays a call to the operator under test.
CXXFLAGS = ["-std=gnu++23", "-O1", "-g", "-pthread", "-fno-allocation-dce", "-Wall", "-Wextra"]

# The C++ operators the variants that interpose export (HAK_INTERPOSE=1 in modes/variants.yaml).
INTERPOSING = [v for v, spec in cbuild._loader.load_variants().items() if spec.interpose]
NON_INTERPOSING = [v for v in cbuild.VARIANTS if v not in INTERPOSING]


def compile_cxx(name: str) -> Path:
    src = CDIR / f"{name}.cc"
    cmd = ["g++"] + CXXFLAGS + [f"-I{cbuild.CDIR}", str(src), "-ldl"]
    return support.compile_once(BUILD / name, cmd, [src, cbuild.CDIR / "hakc.h", Path(__file__)])


def compile_c(name: str) -> Path:
    return cbuild.compile_driver(name, src_dir=CDIR, build=BUILD, deps=[Path(__file__)])


def run(exe: Path, mode: str | None, variant: str, args: Sequence[str] = (),
        env: Mapping[str, str] | None = None, timeout: float = 120) -> cbuild.Result:
    """Run a driver under LD_PRELOAD of out/<mode>/<variant>/libhakmem.so, or bare when mode is None."""
    full = cbuild.preload_env(mode, variant, env) if mode else cbuild.clean_env(env)
    return cbuild.run([str(exe), *map(str, args)], full, timeout)


def symbols(path: Path, *nm_args: str) -> dict[str, str]:
    """Dynamic symbols of a binary, name (without version) -> nm's type letter."""
    out = subprocess.run(["nm", "-D", *nm_args, str(path)], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            table[parts[-1].split("@")[0]] = parts[-2]
    return table


def operator_symbols(exe: Path) -> list[str]:
    """The mangled operator new/delete names a C++ program refers to (undefined in it)."""
    return sorted(n for n in symbols(exe, "--undefined-only") if n.startswith(("_Znw", "_Zna", "_Zdl", "_Zda")))


def needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [l.split("[")[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l]
