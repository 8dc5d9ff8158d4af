"""Instructions per malloc+free pair, counted by callgrind, at two sizes: 32 bytes
(the tiny fast path) and 2 MiB (the large-block path).

`cg_pair N SIZE` runs N pairs of SIZE bytes. Running it for two values of N and
dividing the difference in total instructions by the difference in N cancels
start-up, the loader and exit, and is repeatable to the instruction. `cg_pair N null`
runs the same loop against two empty functions: its per-iteration count is the
loop's own overhead (loop control, the two indirect calls, two trivial bodies),
subtracted to give `net`, the allocator's instructions per pair. Only user-space
instructions count: a system call costs the few instructions that make it.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, asdict
from pathlib import Path

from hakmem.bench.allocators import Allocator
from hakmem.bench.runner import base_env, display_command

SMALL = 32
LARGE = 2 * 1024 * 1024
SIZES = (SMALL, LARGE)

# Loop counts (N1, N2). A 2 MiB pair costs up to ~2 500 instructions (50x the
# small one), so fewer iterations give as large a difference. N1 stays at 1 500 or
# more even when quick: tcmalloc spends ~680 instructions per 2 MiB pair until
# about its 1 000th pair and ~548 after, and the difference must see only the latter.
N_FULL = (100_000, 300_000)
N_QUICK = (20_000, 60_000)
N_LARGE_FULL = (2_000, 6_000)
N_LARGE_QUICK = (1_500, 3_000)


def loop_counts(size: int, quick: bool) -> tuple[int, int]:
    # Beyond the small size classes a pair costs hundreds to thousands of instructions.
    if size >= 64 * 1024:
        return N_LARGE_QUICK if quick else N_LARGE_FULL
    return N_QUICK if quick else N_FULL


def size_label(size: int) -> str:
    """2097152 -> '2 MiB', 32 -> '32' (as in malloc(2 MiB), malloc(32))."""
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return str(size)


@dataclass
class PairCount:
    allocator: str
    size: int = SMALL                    # bytes per malloc
    status: str = "ok"
    n1: int = 0
    n2: int = 0
    ir1: int | None = None
    ir2: int | None = None
    per_pair: float | None = None        # total instructions per iteration
    loop_overhead: float | None = None   # the null loop's instructions per iteration
    net: float | None = None             # per_pair - loop_overhead
    command: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def available() -> bool:
    return shutil.which("valgrind") is not None


def total_ir(binary: Path, args: list[str], preload: str | None, timeout: float = 600
             ) -> tuple[int | None, str]:
    """Total instructions (Ir) of one program run under callgrind, or (None, why)."""
    with tempfile.TemporaryDirectory(prefix="hakcg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        env = base_env({"LD_PRELOAD": preload} if preload else {})
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               str(binary), *args]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "timeout"
        if proc.returncode != 0:
            return None, f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
        if not out.exists():
            return None, "no callgrind output"
        return parse_total(out.read_text(errors="replace")), "ok"


def parse_total(text: str) -> int | None:
    """The `summary:` (or `totals:`) line of a callgrind output file."""
    for key in ("summary", "totals"):
        m = re.search(rf"^{key}:\s*(\d+)", text, re.MULTILINE)
        if m:
            return int(m.group(1))
    return None


def loop_overhead(binary: Path, ns: tuple[int, int] = N_FULL) -> float | None:
    a, _ = total_ir(binary, [str(ns[0]), "null"], None)
    b, _ = total_ir(binary, [str(ns[1]), "null"], None)
    if a is None or b is None:
        return None
    return (b - a) / (ns[1] - ns[0])


def measure(binary: Path, allocator: Allocator, ns: tuple[int, int] = N_FULL,
            overhead: float | None = None, size: int = SMALL) -> PairCount:
    """Instructions per malloc(size)+free pair under one allocator; `overhead` is
    loop_overhead() for the same ns."""
    pc = PairCount(allocator.name, size=size, n1=ns[0], n2=ns[1], loop_overhead=overhead)
    delta = {"LD_PRELOAD": allocator.preload} if allocator.preload else {}
    pc.command = "valgrind --tool=callgrind " + display_command(
        [str(binary), str(ns[1]), str(size)], delta)
    if not allocator.usable:
        pc.status = allocator.status
        return pc
    pc.ir1, why1 = total_ir(binary, [str(ns[0]), str(size)], allocator.preload)
    pc.ir2, why2 = total_ir(binary, [str(ns[1]), str(size)], allocator.preload)
    if pc.ir1 is None or pc.ir2 is None:
        pc.status = why1 if pc.ir1 is None else why2
        return pc
    pc.per_pair = (pc.ir2 - pc.ir1) / (ns[1] - ns[0])
    if overhead is not None:
        pc.net = pc.per_pair - overhead
    return pc
