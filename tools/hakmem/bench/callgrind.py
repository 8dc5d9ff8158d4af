"""Instructions per malloc(32)+free pair, counted by callgrind.

`cg_pair N` runs N pairs. Running it for two values of N and dividing the
difference in total instructions by the difference in N cancels start-up, the
loader and exit, and is repeatable to the instruction. `cg_pair N null` runs the
same loop against two empty functions: its per-iteration count is the loop's own
overhead (loop control, the two indirect calls, two trivial bodies), subtracted to
give `net`, the allocator's instructions per pair.
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

N_FULL = (100_000, 300_000)
N_QUICK = (20_000, 60_000)


@dataclass
class PairCount:
    allocator: str
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
            overhead: float | None = None) -> PairCount:
    pc = PairCount(allocator.name, n1=ns[0], n2=ns[1], loop_overhead=overhead)
    delta = {"LD_PRELOAD": allocator.preload} if allocator.preload else {}
    pc.command = "valgrind --tool=callgrind " + display_command(
        [str(binary), str(ns[1])], delta)
    if not allocator.usable:
        pc.status = allocator.status
        return pc
    pc.ir1, why1 = total_ir(binary, [str(ns[0])], allocator.preload)
    pc.ir2, why2 = total_ir(binary, [str(ns[1])], allocator.preload)
    if pc.ir1 is None or pc.ir2 is None:
        pc.status = why1 if pc.ir1 is None else why2
        return pc
    pc.per_pair = (pc.ir2 - pc.ir1) / (ns[1] - ns[0])
    if overhead is not None:
        pc.net = pc.per_pair - overhead
    return pc
