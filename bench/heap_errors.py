#!/usr/bin/env python3
"""Which allocator stops which heap error: tests/hardened/c/heap_errors.c and heap_errors_cxx.cc, every
case under every allocator.

A case prints "MISSED <case>" when the error got through; a run without that line (an abort, a crash, an
error exit) counts as stopped, and a run that outlives the timeout as a hang. For impossible_sizes any
MISSED line (a non-NULL result, or errno other than ENOMEM) is a miss. The correct programs (ok, cxx_ok)
are shown apart: they must run clean, and are not counted. Where an error lands depends on the memory
layout (what lies next to a large mapping, say), so each case runs --runs times: a cell that did not
come out the same every time says how often the error was stopped. Peers are Debian's packages, preloaded;
hakmem-<mode> is out/<mode>/release/libhakmem.so as built (this script does not build it);
hakmem-balanced-checks is the balanced mode with HAKMEM_INTEGRITY_CHECKS=1.

usage: python3 bench/heap_errors.py [--allocators glibc,mimalloc,...] [--out docs/heap_errors.md]
                                    [--runs 3] [--timeout 20] [--jobs 2]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "tests" / "hardened" / "c"
BUILD = ROOT / "build" / "heap-errors"

DEFAULT_ALLOCATORS = ["glibc", "mimalloc", "jemalloc", "tcmalloc", "hakmem-fast", "hakmem-balanced-checks",
                      "hakmem-hardened"]
# name -> (what it preloads, extra environment)
VARIANTS = {"hakmem-balanced-checks": ("hakmem-balanced", {"HAKMEM_INTEGRITY_CHECKS": "1"})}

# error class -> its cases, in the order of the table
CASES = {
    "write past the end": ["overflow_1_write", "overflow_32_write", "overflow_1_memcpy", "overflow_32_memcpy",
                           "overflow_1mib", "overflow_tight", "overflow_large_1", "overflow_large_1mib"],
    "write before the start": ["underflow_1", "underflow_32", "underflow_1mib", "underflow_large_1"],
    "double free": ["double_plain", "double_delayed", "double_interleaved", "double_after_reuse",
                    "double_large"],
    "invalid free": ["invalid_stack", "invalid_alloca", "invalid_global", "invalid_unaligned",
                     "invalid_interior", "invalid_far", "invalid_large_interior"],
    "use after free": ["uaf_write", "uaf_write_link", "uaf_write_noreuse", "uaf_read", "uaf_large_write"],
    "zero-size block": ["zero_write", "zero_read"],
    "executing the heap": ["exec_heap", "exec_heap_rie"],
    "C++ new/delete mismatch": ["cxx_delete_array_as_scalar", "cxx_delete_array_dtor_as_scalar",
                                "cxx_malloc_delete", "cxx_new_free"],
    "impossible sizes": ["impossible_sizes"],
}
CORRECT = ["ok", "cxx_ok"]

# The same flags as tests/hardened: -O1 with no builtins keeps every error in the binary.
CFLAGS = ["-std=gnu11", "-O1", "-g", "-pthread", "-fno-builtin", "-Wall", "-Wno-free-nonheap-object",
          "-Wno-use-after-free", "-Wno-stringop-overflow", "-Wno-array-bounds"]
CXXFLAGS = ["-std=c++17", "-O1", "-g", "-pthread", "-fno-allocation-dce", "-Wall",
            "-Wno-mismatched-new-delete", "-Wno-free-nonheap-object"]


def compile_programs() -> dict[str, Path]:
    """build/heap-errors/heap_errors{,_cxx}, rebuilt when the source is newer."""
    BUILD.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, cc, flags, ext in (("heap_errors", "gcc", CFLAGS, "c"), ("heap_errors_cxx", "g++", CXXFLAGS, "cc")):
        src, exe = SRC / f"{name}.{ext}", BUILD / name
        if not exe.exists() or exe.stat().st_mtime_ns < src.stat().st_mtime_ns:
            subprocess.run([cc, *flags, str(src), "-o", str(exe)], check=True)
        out[name] = exe
    return out


def _find_peer(name: str) -> tuple[str | None, str]:
    """(library to preload, why not) through the benchmark harness's allocator registry."""
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    try:
        from hakmem.bench import allocators
    except ImportError as e:                   # the tree's tools are not importable: say so
        return None, f"cannot import hakmem.bench.allocators ({e})"
    a = allocators.resolve(name, root=ROOT, build=False)
    return (a.preload, "") if a.usable else (None, a.detail or a.status)


def resolve(name: str) -> tuple[str | None, dict[str, str], str]:
    """An allocator name -> (LD_PRELOAD or None for glibc, extra environment, reason it cannot run)."""
    base, extra = VARIANTS.get(name, (name, {}))
    if base == "glibc":
        return None, extra, ""
    lib, why = _find_peer(base)
    return lib, extra, why or ("" if lib else "not found")


def clean_env(preload: str | None, extra: dict[str, str]) -> dict[str, str]:
    """This environment without anything that changes an allocator, then the allocator's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HAKMEM_", "MALLOC_", "MIMALLOC_", "JE_", "TCMALLOC_"))
           and k not in ("LD_PRELOAD", "GLIBC_TUNABLES", "MALLOC_CONF")}
    env.update(extra)
    if preload:
        env["LD_PRELOAD"] = preload
    return env


def run_case(exe: Path, case: str, env: dict[str, str], timeout: float) -> str:
    """One run -> "stopped", "missed" or "hang" (for the correct programs: "clean" or "FAILED")."""
    proc = subprocess.Popen([str(exe), case], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return "hang"
    lines = out.splitlines()
    if case in CORRECT:
        return "clean" if proc.returncode == 0 and "end" in lines else "FAILED"
    if case == "impossible_sizes":
        return "missed" if any(l.startswith("MISSED") for l in lines) else "stopped"
    return "missed" if f"MISSED {case}" in lines else "stopped"


def cell(outcomes: list[str]) -> str:
    """Runs of one case -> its cell: the outcome if all agree, else how often it was stopped."""
    if "hang" in outcomes:
        return "hang"
    if len(set(outcomes)) == 1:
        return outcomes[0]
    if "FAILED" in outcomes:
        return "FAILED"
    return f"stopped {outcomes.count('stopped')} of {len(outcomes)}"


def table(names: list[str], cells: dict[tuple[str, str], str], notes: dict[str, str]) -> str:
    head = "| error | " + " | ".join(names) + " |"
    rows = [head, "|" + "---|" * (len(names) + 1)]
    errors = [c for cs in CASES.values() for c in cs]
    for group, cases in CASES.items():
        rows.append(f"| **{group}** |" + " |" * len(names))
        for case in cases:
            rows.append(f"| {case} | " + " | ".join(cells.get((n, case), "-") for n in names) + " |")
    total = [f"stopped {sum(cells.get((n, c)) == 'stopped' for c in errors)} of {len(errors)}"
             if n not in notes else "-" for n in names]
    rows.append("| **total** | " + " | ".join(total) + " |")
    rows.append("| **correct programs** |" + " |" * len(names))
    for case in CORRECT:
        rows.append(f"| {case} | " + " | ".join(cells.get((n, case), "-") for n in names) + " |")
    text = "\n".join(rows) + "\n"
    text += ("\nstopped: the program did not get past the error (an abort, a crash or an error exit); "
             "missed: it did; total: the errors stopped in every run.\n")
    if notes:
        text += "\n" + "\n".join(f"- {n}: not run ({why})" for n, why in notes.items()) + "\n"
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allocators", default=",".join(DEFAULT_ALLOCATORS),
                    help="comma-separated: glibc, mimalloc, jemalloc, tcmalloc, hakmem-<mode>, "
                         "hakmem-balanced-checks, NAME=/path/lib.so")
    ap.add_argument("--out", type=Path, help="also write the table (markdown) to this file")
    ap.add_argument("--runs", type=int, default=3, help="runs of each case under each allocator")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per run before it counts as a hang")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time")
    args = ap.parse_args(argv)

    exes = compile_programs()
    names = [n for n in args.allocators.split(",") if n]
    labels = [n.split("=", 1)[0] for n in names]
    cells: dict[tuple[str, str], str] = {}
    notes: dict[str, str] = {}
    jobs = []
    for name, label in zip(names, labels):
        preload, extra, why = resolve(name)
        if why:
            notes[label] = why
            continue
        env = clean_env(preload, extra)
        for case in [c for cs in CASES.values() for c in cs] + CORRECT:
            exe = exes["heap_errors_cxx" if case.startswith("cxx_") else "heap_errors"]
            jobs.append(((label, case), exe, case, env))
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {key: [pool.submit(run_case, exe, case, env, args.timeout) for _ in range(max(1, args.runs))]
                   for key, exe, case, env in jobs}
        for key, runs in futures.items():
            cells[key] = cell([f.result() for f in runs])

    text = table(labels, cells, notes)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
