"""c/served.c, built either plain (for LD_PRELOAD) or against a libhakmem.a, and its one-line answer
to "is this program's malloc hakmem's?"."""
from __future__ import annotations

import subprocess
from pathlib import Path

import support

SOURCE = Path(__file__).resolve().parent / "c" / "served.c"
CFLAGS = ["-std=gnu11", "-O1", "-Wall", "-Werror", "-fno-builtin"]


def build(out: Path, link: list[str] | None = None) -> Path:
    """Plain (link None: hakmem is found by dlsym when preloaded) or linked with `link`, the
    archive and the libraries after the source as a user would write them."""
    if link is None:
        cmd = ["gcc", *CFLAGS, str(SOURCE)]
    else:
        cmd = ["gcc", *CFLAGS, "-DHAK_LINKED", f"-I{support.ROOT / 'include'}", str(SOURCE), *link]
    archives = [Path(a) for a in link or [] if a.endswith(".a")]
    return support.compile_once(out, cmd, [SOURCE, Path(__file__), *archives])


def answer(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """{"mode", "variant", "owned", "strdup"} from the program's output line."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    return dict(kv.split("=", 1) for kv in line.split())
