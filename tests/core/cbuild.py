"""Build and run the tests/core C driver programs for one (mode, variant).

Two kinds of driver binary come from the same source (see c/hakc.h):

* plain — ``gcc -O1 -g -pthread`` calling the ordinary malloc family.  It does
  not depend on any libhakmem.so, so one binary serves every mode: release and
  debug runs put the mode's .so under it with ``LD_PRELOAD``; the "glibc"
  control runs it bare.
* prefixed — for the asan/tsan variants: compiled with that variant's
  sanitizer flags and ``-DHAK_PREFIXED`` (calls ``hak_*``), linked against
  ``out/<mode>/<variant>/libhakmem.so`` with an rpath.

Binaries go to ``build/tests-core/`` and are rebuilt when a source or the
linked .so is newer; compilation takes a file lock so pytest-xdist workers
never race.  The registry of modes and variants comes from the build
framework (tests/support.py).
"""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pytest

HERE = Path(__file__).resolve().parent
CDIR = HERE / "c"
PROGRAMS = HERE / "programs"
TESTS = HERE.parent
ROOT = TESTS.parent
BUILD = ROOT / "build" / "tests-core"

for _p in (str(TESTS), str(ROOT / "tools")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import support as _support  # noqa: E402  (tests/support.py: MODES, VARIANTS, so_path, ensure_built)
from hakmem import loader as _loader  # noqa: E402

SANITIZER_VARIANTS = ("asan", "tsan")
PRELOAD_VARIANTS = ("release", "debug")
GLIBC = "glibc"  # pseudo-variant: the plain driver with no preload (control run)

MODES, VARIANTS = _support.MODES, _support.VARIANTS
# Modes that compile statistics in (and so can prove they served a program).
STATS_MODES = [m for m in MODES if _loader.resolve_mode(m).features.get("stats")]


def _variant_marks(variant: str) -> list:
    if variant == "asan":
        return [pytest.mark.asan]
    if variant == "tsan":
        return [pytest.mark.tsan]
    return []


def cases(variants: Iterable[str] | None = None, modes: Iterable[str] | None = None) -> list:
    """pytest params over modes x variants, ids like ``fast-asan``."""
    vs = [v for v in VARIANTS if variants is None or v in set(variants)]
    ms = [m for m in MODES if modes is None or m in set(modes)]
    return [pytest.param(m, v, id=f"{m}-{v}", marks=_variant_marks(v)) for m in ms for v in vs]


# --------------------------------------------------------------------------- the .so

so_path = _support.so_path


def require_so(mode: str, variant: str) -> Path:
    """The variant's .so, built on first use through the framework; skip when absent."""
    _support.ensure_built()
    so = so_path(mode, variant)
    if not so.exists():
        pytest.skip(f"{so.relative_to(ROOT)} is not built")
    return so


# --------------------------------------------------------------------------- compiling

def _variant_flags(variant: str) -> tuple[list[str], list[str]]:
    """Sanitizer compile and link flags of a variant, from the variant registry."""
    v = _loader.load_variants()[variant]
    cflags, lflags = list(v.cflags), list(v.linkflags)
    keep = lambda f: f.startswith("-fsanitize") or f.startswith("-fno-sanitize") or f == "-fno-omit-frame-pointer"
    return [f for f in cflags if keep(f)], [f for f in lflags if f.startswith("-fsanitize") or f.startswith("-fno-sanitize")]


BASE_CFLAGS = ["-std=gnu11", "-O1", "-g", "-pthread", "-fno-builtin", "-Wall", "-Wextra"]


def compile_driver(name: str, mode: str | None = None, variant: str = GLIBC,
                   src_dir: Path = CDIR, build: Path = BUILD, deps: Sequence[Path] = ()) -> Path:
    """Compile <src_dir>/<name>.c (tests/core/c by default; any driver on hakc.h) for (mode, variant)
    into `build` and return the binary; `deps` are further files that make it stale."""
    src = src_dir / f"{name}.c"
    deps = [src, CDIR / "hakc.h", Path(__file__), *deps]
    if variant in SANITIZER_VARIANTS:
        assert mode is not None
        so = require_so(mode, variant)
        out = build / mode / variant / name
        cfl, lfl = _variant_flags(variant)
        cmd = (["gcc"] + BASE_CFLAGS + cfl + ["-DHAK_PREFIXED", f"-I{ROOT / 'include'}", f"-I{CDIR}",
                str(src), str(so), f"-Wl,-rpath,{so.parent}"] + lfl + ["-ldl"])
        deps += [so, ROOT / "include" / "hakmem.h"]
    else:
        out = build / "plain" / name
        cmd = ["gcc"] + BASE_CFLAGS + [f"-I{CDIR}", str(src), "-ldl"]
    return _support.compile_once(out, cmd, deps)


# --------------------------------------------------------------------------- running

ASAN_OPTIONS = "allocator_may_return_null=1:detect_leaks=0:halt_on_error=1:abort_on_error=0"
TSAN_OPTIONS = "allocator_may_return_null=1:halt_on_error=1:second_deadlock_stack=1:exitcode=66"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without ambient allocator settings, plus `extra`."""
    return _support.clean_env(extra)


def preload_env(mode: str, variant: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = clean_env(extra)
    env["LD_PRELOAD"] = str(require_so(mode, variant))
    return env


@dataclass
class Result:
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    lines: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [l for l in self.lines if l.startswith("FAIL ")]

    @property
    def oks(self) -> list[str]:
        return [l[3:] for l in self.lines if l.startswith("ok ")]

    def info(self, prefix: str) -> list[str]:
        return [l[len("info ") :] for l in self.lines if l.startswith("info " + prefix)]

    def describe(self, env_note: str = "") -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-25:])
        what = "timed out" if self.timed_out else (
            f"killed by signal {-self.returncode}" if self.returncode < 0 else f"exit {self.returncode}")
        fails = "\n  ".join(self.failures) or "(no FAIL lines)"
        return (f"{' '.join(self.cmd)} {env_note}-> {what}\n  {fails}\n"
                f"--- stderr (tail) ---\n{tail}")


def run(cmd: Sequence[str], env: Mapping[str, str], timeout: float, cwd: Path | None = None,
        stdin: str | None = None) -> Result:
    """Run a command in its own process group; the whole group dies on timeout."""
    rc, out, err, timed_out = _support.run_group(cmd, env, timeout, cwd=cwd, stdin=stdin)
    return Result(list(map(str, cmd)), rc, out, err, timed_out, out.splitlines())


def run_driver(name: str, mode: str | None, variant: str, args: Sequence[str] = (),
               env: Mapping[str, str] | None = None, timeout: float = 120, **where) -> Result:
    """Compile (if needed) and run one driver for (mode, variant); `where` goes to compile_driver.

    variant "glibc" runs the plain driver without any preload (the control)."""
    exe = compile_driver(name, mode, variant, **where)
    extra = dict(env or {})
    if variant in PRELOAD_VARIANTS:
        assert mode is not None
        full = preload_env(mode, variant, extra)
    else:
        full = clean_env(extra)
        if variant == "asan":
            full.setdefault("ASAN_OPTIONS", ASAN_OPTIONS)
        elif variant == "tsan":
            full.setdefault("TSAN_OPTIONS", TSAN_OPTIONS)
    return run([str(exe), *map(str, args)], full, timeout)


def env_note(mode: str | None, variant: str, env: Mapping[str, str] | None = None) -> str:
    parts = [f"{k}={v}" for k, v in (env or {}).items()]
    if variant in PRELOAD_VARIANTS and mode:
        parts.insert(0, f"LD_PRELOAD={so_path(mode, variant).relative_to(ROOT)}")
    return (" ".join(parts) + " ") if parts else ""


def assert_clean(res: Result, mode: str | None = None, variant: str = GLIBC,
                 env: Mapping[str, str] | None = None) -> None:
    """The driver exited 0, printed no FAIL line and reached its summary."""
    ok = (not res.timed_out and res.returncode == 0 and not res.failures
          and any(l.startswith("summary ") for l in res.lines))
    assert ok, res.describe(env_note(mode, variant, env))


def have(binary: str) -> str | None:
    return shutil.which(binary)
