"""Alternating A/B runs of one benchmark program under hakmem modes; medians of the RESULT line.

    python3 tests/learn/abcompare.py RUNS CONFIG... -- PROGRAM ARGS...

CONFIG is `label|mode` or `label|mode|HAKMEM_X=1,HAKMEM_Y=2`: the program runs with
LD_PRELOAD=out/<mode>/release/libhakmem.so and those variables, every config once per round,
RUNS rounds. Prints per config the median wall-clock ops/s, ops per CPU-second, peak RSS, and the
median of every `*_seconds` and `rss_*` field the program reports (phase_shift's per-phase figures).
Used for the figures in docs/LEARNING.md.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    sep = argv.index("--")
    runs, confs, prog = int(argv[0]), argv[1:sep], argv[sep + 1:]
    res: dict[str, list[dict[str, str]]] = {c: [] for c in confs}
    for _ in range(runs):
        for c in confs:
            label, mode, envs = (c.split("|") + [""])[:3]
            env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_")}
            env["LD_PRELOAD"] = str(ROOT / "out" / mode / "release" / "libhakmem.so")
            for kv in filter(None, envs.split(",")):
                k, v = kv.split("=", 1)
                env[k] = v
            out = subprocess.run(prog, env=env, capture_output=True, text=True, check=True).stdout
            line = [l for l in out.splitlines() if l.startswith("RESULT")][-1]
            res[c].append(dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv))
    for c in confs:
        v = res[c]
        med = lambda key: statistics.median(float(d[key]) for d in v)
        cpu = statistics.median(float(d["ops"]) / float(d["cpu_seconds"]) for d in v if float(d.get("cpu_seconds", 0)))
        print(f"{c.split('|')[0]:16s} ops/s {med('ops_per_sec') / 1e6:8.2f} M   ops/CPU-s {cpu / 1e6:8.2f} M   "
              f"peak RSS {med('peak_rss_kib') / 1024:7.1f} MiB   runs {len(v)}")
        for key in v[0]:
            if key.startswith("rss_") or (key.endswith("_seconds") and key != "cpu_seconds"):
                print(f"    {key} {med(key):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
