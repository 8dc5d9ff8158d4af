"""Where a mode's libhakmem.so lives, and building it when it is missing."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from . import ROOT

PRELOADABLE = ("release", "debug")   # asan/tsan own malloc themselves: hak_* API only


def so_path(mode: str, variant: str) -> Path:
    return ROOT / "out" / mode / variant / "libhakmem.so"


def ensure_library(mode: str, variant: str, build: bool = True) -> Path:
    """The .so of (mode, variant); built with `scons mode=M variant=V` when missing and
    `build` is set. Raises FileNotFoundError when it still does not exist."""
    path = so_path(mode, variant)
    if path.exists() or not build:
        if not path.exists():
            raise FileNotFoundError(f"{path.relative_to(ROOT)} does not exist "
                                    f"(build it: scons mode={mode} variant={variant})")
        return path
    scons = shutil.which("scons")
    cmd = [scons] if scons else [sys.executable, "-m", "SCons"]
    cmd += ["-Q", f"mode={mode}", f"variant={variant}"]
    print(f"hakmem: building {path.relative_to(ROOT)}: {' '.join(cmd[-3:])}", file=sys.stderr)
    try:
        out = sys.stderr.fileno()   # the build log goes to stderr: stdout is the command's
    except (AttributeError, OSError, ValueError):
        out = None
    proc = subprocess.run(cmd, cwd=ROOT, stdout=out)
    if proc.returncode != 0 or not path.exists():
        raise FileNotFoundError(f"building {path.relative_to(ROOT)} failed "
                                f"(scons exit {proc.returncode})")
    return path


def preload(prog: str, env: dict[str, str], mode: str, variant: str, build: bool = True) -> bool:
    """Put the .so of a known `mode` (built if missing) in front of env's LD_PRELOAD. On an unknown
    mode or a missing library, say so as `prog` on stderr and return False."""
    from . import loader

    try:
        names = loader.mode_names()
    except loader.ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return False
    if mode not in names:
        print(f"{prog}: unknown mode '{mode}' (one of {', '.join(names)})", file=sys.stderr)
        return False
    try:
        so = ensure_library(mode, variant, build=build)
    except FileNotFoundError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return False
    prev = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = f"{so}:{prev}" if prev else str(so)
    return True
