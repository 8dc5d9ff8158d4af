#!/usr/bin/env python3
"""What one operation costs in the currency that decides scaling, per scenario and allocator.

For each scenario the program runs twice under `valgrind --tool=callgrind --cache-sim=yes
--dump-instr=yes` with the allocator preloaded, at two input sizes; the difference between the two
runs, divided by the difference in operations (the RESULT line's ops=), is the marginal cost of one
operation with start-up and exit cancelled. Only instructions inside the preloaded library count:

* instructions executed;
* atomic read-modify-writes: executed instructions whose disassembly (objdump) carries a `lock`
  prefix, plus `xchg` with a memory operand (implicitly locked). Atomic loads and stores are plain
  moves on x86-64 and are not counted;
* mutex acquisitions: calls from the library to pthread_mutex_lock / pthread_mutex_trylock
  (the allocator's own spin locks are exchanges, counted with the atomics);
* D1 write misses: stores of the library that missed callgrind's simulated first-level data cache,
  a proxy for the cache lines it dirties that were not already this core's. Valgrind runs one thread
  at a time on one simulated cache, so a line another core would hold counts only when it was
  evicted meanwhile: on real hardware cross-thread scenarios miss more, never less.

The functions with the most atomics are listed per scenario. Writes bench/results/scaling/
{scaling.json,table.md}.

usage: python3 bench/scaling.py [--modes fast,balanced] [--allocators NAME=/path/lib.so,...]
                                [--scenarios LIST]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from hakmem.bench import suite  # noqa: E402

OUT = ROOT / "bench" / "results" / "scaling"

# scenario -> (program, small args, large args): the suite's programs at sizes valgrind can afford;
# large and vm get a time limit no run reaches, so both sizes do all their operations.
SCENARIOS = {
    "tiny_hot": ("tiny_hot", ["100000", "128", "32"], ["200000", "128", "32"]),
    "random_mixed": ("random_mixed", ["100000", "1024", "42"], ["200000", "1024", "42"]),
    "larson": ("larson", ["2", "16", "1024", "2", "20000", "1000", "42"],
               ["2", "16", "1024", "4", "20000", "1000", "42"]),
    "mid_large": ("mid_large", ["20000", "8192", "32768", "42"], ["40000", "8192", "32768", "42"]),
    "large": ("large", ["2000", "65536", "1048576", "42", "64", "600000"],
              ["4000", "65536", "1048576", "42", "64", "600000"]),
    "vm": ("vm", ["200", "2097152", "600000"], ["400", "2097152", "600000"]),
    "prodcons": ("prodcons", ["50000", "1", "512", "42"], ["100000", "1", "512", "42"]),
    # handoff: more objects than the queue holds (2 x 100 batches of 4096), so no producer can finish
    # and exit before the consumers start (valgrind runs one thread at a time); a consumer would then
    # take over its heap and free its blocks as its own.
    "handoff": ("handoff", ["1m", "2", "2", "4096", "64", "64", "100", "42"],
                ["2m", "2", "2", "4096", "64", "64", "100", "42"]),
    "handoff_mixed": ("handoff", ["1m", "2", "2", "4096", "8", "2048", "100", "42"],
                      ["2m", "2", "2", "4096", "8", "2048", "100", "42"]),
    "larson_t32": ("larson", ["32", "16", "1024", "2", "1000", "1000", "42"],
                   ["32", "16", "1024", "4", "1000", "1000", "42"]),
    "prodcons_t32": ("prodcons", ["50000", "16", "512", "42"], ["100000", "16", "512", "42"]),
}

ATOMIC = re.compile(r"^\s*([0-9a-f]+):\s+(?:lock\s|xchg\s+\S*\(|xchg\s+[^,]*,\s*\S*\()")
MUTEX = ("pthread_mutex_lock", "pthread_mutex_trylock", "___pthread_mutex_lock", "__pthread_mutex_lock",
         "___pthread_mutex_trylock", "__pthread_mutex_trylock")


def atomic_addresses(lib: Path) -> set[int]:
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True,
                         check=True).stdout
    return {int(m.group(1), 16) for m in map(ATOMIC.match, dis.splitlines()) if m}


def parse(out: Path, lib: Path, atomics: set[int]) -> dict:
    """Costs of the library's own instructions in one callgrind file (positions: instr, not compressed)."""
    ir = d1mw = atom = locks = 0
    by_fn: Counter = Counter()
    events: list[str] = []
    ob = fn = cfn = ""
    skip_next = False
    ours = False
    for line in out.read_text(errors="replace").splitlines():
        if skip_next:            # the inclusive cost of a call: not this function's own
            skip_next = False
            continue
        if line.startswith("0x"):
            if not ours:
                continue
            parts = line.split()
            addr, costs = int(parts[0], 16), [int(x) for x in parts[2:]]
            costs += [0] * (len(events) - len(costs))
            n = costs[events.index("Ir")]
            ir += n
            d1mw += costs[events.index("D1mw")]
            if addr in atomics:
                atom += n
                by_fn[fn] += n
        elif line.startswith("ob="):
            ob = line[3:]
            ours = Path(ob).resolve() == lib.resolve()
        elif line.startswith("fn="):
            fn = line[3:]
        elif line.startswith("cfn="):
            cfn = line[4:]
        elif line.startswith("calls="):
            skip_next = True
            if ours and cfn.split("'")[0].split("@")[0] in MUTEX:
                locks += int(line.split("=")[1].split()[0])
        elif line.startswith("events:"):
            events = line.split()[1:]
    return {"ir": ir, "d1mw": d1mw, "atomics": atom, "locks": locks, "atomics_by_fn": dict(by_fn)}


def run_once(program: Path, args: list[str], lib: Path, atomics: set[int], tmp: Path) -> tuple[int, dict]:
    out = tmp / "cg.out"
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--dump-instr=yes", "--compress-pos=no",
           "--compress-strings=no", f"--callgrind-out-file={out}", str(program), *args]
    proc = subprocess.run(cmd, env={"LD_PRELOAD": str(lib), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=1800)
    m = re.search(r"RESULT .*?\bops=(\d+)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return int(m.group(1)), parse(out, lib, atomics)


def measure(name: str, lib: Path, scenario: str, tmp: Path) -> dict:
    program, small, large = SCENARIOS[scenario]
    exe = suite.build_program(program)
    atomics = atomic_addresses(lib)
    n1, a = run_once(exe, small, lib, atomics, tmp)
    n2, b = run_once(exe, large, lib, atomics, tmp)
    ops = n2 - n1
    per = {k: (b[k] - a[k]) / ops for k in ("ir", "d1mw", "atomics", "locks")}
    fns = Counter({f: b["atomics_by_fn"].get(f, 0) - a["atomics_by_fn"].get(f, 0)
                   for f in b["atomics_by_fn"]})
    per["top_atomics"] = [(f, n / ops) for f, n in fns.most_common(4) if n / ops >= 0.0005]
    per["ops"] = [n1, n2]
    per["command"] = f"LD_PRELOAD={lib} valgrind --tool=callgrind --cache-sim=yes out/bench/{program} " + \
        " ".join(large)
    print(f"{scenario:14} {name:16} {per['ir']:8.1f} ir {per['atomics']:6.3f} atomics "
          f"{per['locks']:7.4f} locks {per['d1mw']:6.3f} D1mw  {per['top_atomics']}", flush=True)
    return per


def table(results: dict, names: list[str]) -> str:
    rows = ["| scenario (one op) | allocator | instructions | atomic RMWs | mutex locks | D1 write misses "
            "| atomics from |", "| :--- | :--- | ---: | ---: | ---: | ---: | :--- |"]
    for scen in SCENARIOS:
        if scen not in results:
            continue
        what = suite.SCENARIOS[scen].unit if scen in suite.SCENARIOS else ""
        for name in names:
            r = results[scen].get(name)
            if not r:
                continue
            top = ", ".join(f"`{f}` {n:.3f}" for f, n in r["top_atomics"]) or "–"
            rows.append(f"| `{scen}` ({what}) | {name} | {r['ir']:.1f} | {r['atomics']:.3f} | "
                        f"{r['locks']:.4f} | {r['d1mw']:.3f} | {top} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", default="fast,balanced")
    ap.add_argument("--allocators", default="", help="further NAME=/path/lib.so, comma-separated")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--out", default=str(OUT))
    opts = ap.parse_args(argv)
    libs = {f"hakmem-{m}": ROOT / "out" / m / "release" / "libhakmem.so" for m in opts.modes.split(",") if m}
    for spec in filter(None, opts.allocators.split(",")):
        name, _, path = spec.partition("=")
        libs[name] = Path(path)
    for name, lib in libs.items():
        if not lib.exists():
            ap.error(f"{name}: {lib} does not exist (build it with scons mode=<mode> variant=release)")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scen in opts.scenarios.split(","):
            if scen not in SCENARIOS:
                ap.error(f"unknown scenario {scen!r}; known: {', '.join(SCENARIOS)}")
            results[scen] = {name: measure(name, lib, scen, Path(tmp)) for name, lib in libs.items()}
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(results, indent=1) + "\n")
    md = table(results, list(libs))
    (out / "table.md").write_text(f"Command: `python3 bench/scaling.py {' '.join(argv or sys.argv[1:])}`\n\n"
                                  "Per operation, inside the allocator only (see bench/scaling.py).\n\n" + md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
