"""The benchmark scenarios and the build of their C programs.

Each scenario names a program under `bench/` and its arguments for a full run and
for `--quick`. Programs are compiled with the system C compiler into `out/bench/`
when missing or older than their sources; no SCons involvement.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hakmem import ROOT

BENCH_SRC = ROOT / "bench"
BENCH_OUT = ROOT / "out" / "bench"
CFLAGS = [
    "-O2", "-std=c11", "-Wall", "-Wextra", "-pthread",
    # Keep every malloc/free a real call, so a preloaded allocator sees them all.
    "-fno-builtin-malloc", "-fno-builtin-free", "-fno-builtin-calloc",
    "-fno-builtin-realloc",
]


@dataclass(frozen=True)
class Scenario:
    name: str
    program: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    unit: str          # what one "op" is
    what: str          # one-line description for the report
    threads: int = 1
    tags: tuple[str, ...] = field(default=())
    # False: only run when named with --scenarios, or in the mode matrix (a scenario
    # too long for the default comparison's time budget, or aimed at one feature).
    in_default: bool = True

    def argv(self, quick: bool) -> list[str]:
        return list(self.quick_args if quick else self.args)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("random_mixed", "random_mixed", ("10000000", "1024", "42"),
             ("1000000", "1024", "42"), "malloc or free",
             "random sizes 16–1024 B over 8192 slots (seeds' bench_random_mixed)"),
    Scenario("tiny_hot", "tiny_hot", ("30000000", "128", "32"),
             ("3000000", "128", "32"), "malloc+free pair",
             "batches of 32 blocks of 16–128 B, allocated then freed LIFO"),
    Scenario("size_batches", "size_batches", ("20000000", "4096", "1000"),
             ("2000000", "4096", "1000"), "malloc+free pair",
             "one size at a time, 16 B-4 KiB doubling: 1000 blocks allocated, then freed in order "
             "(glibc's bench-malloc-simple pattern; more blocks than a thread cache holds)"),
    Scenario("larson", "larson", ("2", "16", "1024", "50", "100000", "1000", "42"),
             ("2", "16", "1024", "10", "50000", "1000", "42"), "free+malloc replacement",
             "2 threads, 16–1024 B, 50 rounds; arrays handed to new threads each round",
             threads=2),
    Scenario("mid_large", "mid_large", ("2000000", "8192", "32768", "42"),
             ("200000", "8192", "32768", "42"), "malloc or free",
             "random sizes 8–32 KiB over 512 slots"),
    # large and vm are bounded by time as well as by count: an allocator that maps
    # and unmaps every block pays page faults on every cycle and would otherwise
    # take minutes.
    Scenario("large", "large", ("100000", "65536", "1048576", "42", "64", "1500"),
             ("10000", "65536", "1048576", "42", "64", "200"), "malloc or free",
             "random sizes 64 KiB–1 MiB over 64 slots, every page written "
             "(at most ~1.5 s)"),
    Scenario("vm", "vm", ("20000", "2097152", "1000"), ("2000", "2097152", "150"),
             "2 MiB allocate/touch/free cycle",
             "2 MiB block allocated, every page written, freed (seeds' VM scenario; "
             "at most ~1 s)"),
    Scenario("cold_churn", "cold_churn", ("20", "64m", "4096", "42"),
             ("4", "32m", "4096", "42"), "block allocated and freed",
             "64 MiB working set of 16–4096 B blocks, freed in random order, 20 rounds"),
    Scenario("json_parse", "json_parse", ("1000", "32768", "42"),
             ("100", "32768", "42"), "document parsed and freed",
             "32 KiB generated JSON documents parsed into malloc'd trees and freed"),
    Scenario("prodcons", "prodcons", ("2000000", "1", "512", "42"),
             ("200000", "1", "512", "42"), "block passed and freed remotely",
             "1 producer + 1 consumer thread, 16–512 B blocks through a ring",
             threads=2),
    # Hand-offs as servers and pipelines do them: whole batches change threads, with their
    # pointer array (above 32 KiB: a LARGE block) freed by the consumer too.
    Scenario("handoff", "handoff", ("16m", "2", "2", "4096", "64", "64", "100", "42"),
             ("1m", "2", "2", "4096", "64", "64", "100", "42"), "object freed by another thread",
             "2 producers pass batches of 4096 64 B objects through a mutex/condvar queue "
             "(at most 100 batches) to 2 consumers, which free them and the 32 KiB batch array",
             threads=4),
    Scenario("handoff_mixed", "handoff", ("4m", "2", "2", "4096", "8", "2048", "100", "42"),
             ("512k", "2", "2", "4096", "8", "2048", "100", "42"), "object freed by another thread",
             "as handoff, with objects of 8–2048 B", threads=4),
    # More threads than cores (2 here): preemption in the middle of allocator work.
    *[Scenario(f"larson_t{n}", "larson", (str(n), "16", "1024", "10", str(400000 // n), "1000", "42"),
               (str(n), "16", "1024", "2", str(40000 // n), "1000", "42"), "free+malloc replacement",
               f"larson with {n} threads on each round (more threads than cores)", threads=n,
               in_default=n == 32)
      for n in (8, 16, 32)],
    *[Scenario(f"prodcons_t{n}", "prodcons", ("2000000", str(n // 2), "512", "42"),
               ("200000", str(n // 2), "512", "42"), "block passed and freed remotely",
               f"{n // 2} producer/consumer pairs, 16–512 B blocks (more threads than cores)",
               threads=n, in_default=n == 32)
      for n in (8, 16, 32)],
    Scenario("thread_churn", "thread_churn", ("60", "32", "1000", "42"), ("8", "32", "1000", "42"),
             "block allocated and freed",
             "rounds of 32 threads started at once, 1000 blocks each (mostly 1 B–1 KiB, some to "
             "140 KiB), a quarter freed by the next round after their threads exited (memory of "
             "exited threads)", threads=33, in_default=False),
    Scenario("phase_shift", "phase_shift", ("6", "4000000", "16", "4", "512", "42"),
             ("4", "1000000", "16", "4", "512", "42"), "malloc or free",
             "phases alternate: 4 threads building and freeing bursts of 512 blocks of 48–256 B, "
             "16 threads churning 4–32 KiB blocks (size mix and thread count shift; for learning)",
             threads=16, in_default=False),
]}

DEFAULT_SCENARIOS = [name for name, s in SCENARIOS.items() if s.in_default]
CALLGRIND_PROGRAM = "cg_pair"


def compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise RuntimeError("no C compiler found (set CC or install gcc)")
    return cc


def _stale(binary: Path, sources: list[Path]) -> bool:
    if not binary.exists():
        return True
    mtime = binary.stat().st_mtime
    return any(s.stat().st_mtime > mtime for s in sources)


def build_program(name: str, out_dir: Path = BENCH_OUT, src_dir: Path = BENCH_SRC) -> Path:
    """Compile bench/<name>.c into out_dir/<name> if needed; return the binary path.

    The binary is written to a temporary name and renamed, so concurrent builds
    (pytest-xdist, two harness runs) never see a half-written file."""
    src = src_dir / f"{name}.c"
    if not src.exists():
        raise FileNotFoundError(f"no benchmark source {src}")
    headers = sorted(src_dir.glob("*.h"))
    binary = out_dir / name
    if not _stale(binary, [src, *headers]):
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
    os.close(fd)
    cmd = [compiler(), *CFLAGS, "-I", str(src_dir), "-o", tmp, str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise RuntimeError(f"compiling {src} failed:\n{' '.join(cmd)}\n{proc.stderr}")
    os.chmod(tmp, 0o755)
    os.replace(tmp, binary)
    return binary


def select(names: list[str] | None, every: bool = False) -> list[Scenario]:
    """The named scenarios; without names, the default set (every one with every=True)."""
    if not names:
        return [SCENARIOS[n] for n in (SCENARIOS if every else DEFAULT_SCENARIOS)]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; "
                         f"known: {', '.join(SCENARIOS)}")
    return [SCENARIOS[n] for n in names]
