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
