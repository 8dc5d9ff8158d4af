"""`hakmem trace replay`: build the replayer (replay.c) once, then run it on a trace under
LD_PRELOAD of the chosen allocator (hakmem-<mode>, glibc, mimalloc, jemalloc, tcmalloc, NAME=/lib.so)."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hakmem import ROOT

SOURCE = Path(__file__).resolve().parent / "replay.c"
BUILD_DIR = ROOT / "build" / "diag"


class ReplayError(Exception):
    pass


def default_allocators(trace: Path) -> tuple[list[str], str]:
    """Without -a: the hakmem mode named in the trace header (the one that recorded it) against glibc.
    A header naming no known mode (a foreign or hand-made trace) falls back to the default mode.
    Returns the names and a sentence saying what was chosen and why."""
    from hakmem import loader
    from hakmem.diag import tracefile

    recorded = tracefile.read_header(trace).mode
    try:
        known = loader.mode_names()
        fallback = loader.default_mode()
    except loader.ConfigError as exc:
        raise ReplayError(str(exc)) from None
    if recorded in known:
        mode, why = recorded, "the mode the trace was recorded in"
    else:
        mode, why = fallback, f"the default mode; the trace names no known mode ({recorded or 'none'!r})"
    names = [f"hakmem-{mode}", "glibc"]
    return names, f"allocators: hakmem-{mode} ({why}) and glibc (the default; choose others with -a)"


def replayer(build_dir: Path = BUILD_DIR) -> Path:
    """The compiled replayer, rebuilt when replay.c is newer."""
    exe = build_dir / "hakmem-replay"
    if exe.exists() and exe.stat().st_mtime_ns >= SOURCE.stat().st_mtime_ns:
        return exe
    from hakmem.bench.suite import compiler

    try:
        cc = compiler()        # the benchmarks' rule: $CC, else gcc, else cc
    except RuntimeError:
        raise ReplayError("no C compiler (gcc) to build the replayer") from None
    build_dir.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f"{exe.name}.tmp{os.getpid()}")
    proc = subprocess.run([cc, "-O2", "-std=gnu11", "-fno-builtin", "-o", str(tmp), str(SOURCE)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReplayError(f"building the replayer failed:\n{proc.stderr}")
    os.replace(tmp, exe)
    return exe


@dataclass
class ReplayResult:
    allocator: str
    preload: str | None
    data: dict

    def to_dict(self) -> dict:
        return {"allocator": self.allocator, "preload": self.preload, **self.data}


def resolve_allocator(name: str, build: bool = True):
    """An allocator name as `hakmem bench` understands it -> hakmem.bench.allocators.Allocator."""
    from hakmem.bench import allocators

    alloc = allocators.resolve(name, build=build)
    if not alloc.usable:
        raise ReplayError(f"allocator {name}: {alloc.status} ({alloc.detail})")
    return alloc


def run(trace: Path, allocator: str, repeat: int = 1, touch: int = 64, build: bool = True,
        timeout: float = 600.0) -> ReplayResult:
    from hakmem.bench.runner import base_env

    exe = replayer()
    alloc = resolve_allocator(allocator, build=build)
    env = base_env({"LD_PRELOAD": alloc.preload} if alloc.preload else {})
    proc = subprocess.run([str(exe), str(trace), "--repeat", str(repeat), "--touch", str(touch)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ReplayError(f"replay under {allocator} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not line:
        raise ReplayError(f"replay under {allocator} printed no result:\n{proc.stdout[-500:]}")
    return ReplayResult(allocator, alloc.preload, json.loads(line[-1]))
