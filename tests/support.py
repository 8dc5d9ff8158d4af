"""Shared test helpers: the mode/variant registry and the one-per-session build.

    ROOT, MODES, VARIANTS          repository root; names from modes/ (hakmem.loader)
    so_path(mode, variant)         out/<mode>/<variant>/libhakmem.so
    ensure_built()                 `scons -Q -j2 mode=all variant=all`, once per test session,
                                   under a file lock in out/ (safe with pytest-xdist)
    scons(*args, cwd=ROOT)         run SCons with this interpreter; CompletedProcess
    case_id(mode, variant)         "fast-asan"
    run_group(cmd, env, timeout)   run in its own process group, killed whole on timeout
    hakmem_lines(stderr)           the lines hakmem itself wrote ("hakmem: ...")
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

from hakmem import loader  # noqa: E402

MODES: list[str] = loader.mode_names()
VARIANTS: list[str] = list(loader.load_variants())
OUT = ROOT / "out"
BUILD_ARGS = ["-Q", "-j2", "mode=all", "variant=all"]

_built = False


def so_path(mode: str, variant: str) -> Path:
    return OUT / mode / variant / "libhakmem.so"


def case_id(mode: str, variant: str) -> str:
    return f"{mode}-{variant}"


def scons(*args: str, cwd: Path | str = ROOT, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run SCons under this Python (so the framework's packages are importable)."""
    env = dict(os.environ)
    env.pop("HAKMEM_MODE", None)
    return subprocess.run([sys.executable, "-m", "SCons", *args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)


def ensure_built() -> None:
    """Build every mode x variant once per test session; raise with the build log on failure."""
    global _built
    if _built:
        return
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    stamp = OUT / f".built-{run_id}"
    with build_lock():
        if not stamp.exists():
            proc = scons(*BUILD_ARGS)
            if proc.returncode != 0:
                raise RuntimeError(f"scons {' '.join(BUILD_ARGS)} failed ({proc.returncode}):\n"
                                   f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
            for old in OUT.glob(".built-*"):
                old.unlink(missing_ok=True)
            stamp.touch()
    _built = True


# Everything SCons needs to build, for tests that work on a private copy of the tree.
FRAMEWORK_PATHS = ["SConstruct", "SConscript", "modes", "templates", "tools/hakmem", "include", "src"]


def copy_framework(dest: Path) -> Path:
    """Copy the build framework and sources to dest (no out/, no generated/); return dest."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "bench")
    for rel in FRAMEWORK_PATHS:
        src, dst = ROOT / rel, dest / rel
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore if rel == "tools/hakmem" else
                            shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return dest


def build_lock():
    """The lock ensure_built holds: take it to run SCons in the real tree from a test."""
    from filelock import FileLock

    OUT.mkdir(exist_ok=True)
    return FileLock(str(OUT / ".build.lock"))


def compile_once(out: Path, cmd: list[str], deps: list[Path]) -> Path:
    """Run the compiler command `cmd` (without -o) into `out` unless `out` is newer than every
    dependency; under a file lock and through a temporary name, so parallel test workers never see
    a half-written program."""
    from filelock import FileLock

    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not out.exists() or any(d.stat().st_mtime_ns > out.stat().st_mtime_ns for d in deps):
            tmp = out.with_name(out.name + f".tmp{os.getpid()}")
            proc = subprocess.run(cmd + ["-o", str(tmp)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"compiling {out.name} failed:\n{' '.join(cmd)}\n{proc.stderr}")
            os.replace(tmp, out)
    return out


def clean_env(extra=None) -> dict[str, str]:
    """This process's environment without anything that would change the allocator under test
    (HAKMEM_*, LD_PRELOAD, glibc's malloc checks and tunables), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HAKMEM_") and k not in ("LD_PRELOAD", "MALLOC_CHECK_", "GLIBC_TUNABLES")}
    env.update(extra or {})
    return env


def run_group(cmd, env, timeout: float, cwd=None, stdin: str | None = None) -> tuple[int, str, str, bool]:
    """Run a command in its own process group; the whole group dies on timeout.
    Returns (returncode, stdout, stderr, timed_out)."""
    proc = subprocess.Popen(list(map(str, cmd)), env=dict(env), cwd=cwd, text=True,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        timed_out = True
    return proc.returncode, out, err, timed_out


def hakmem_lines(stderr: str) -> list[str]:
    """The lines of stderr that hakmem wrote: each of its messages is one line starting "hakmem: "."""
    return [l for l in stderr.splitlines() if l.startswith("hakmem: ")]
