#!/usr/bin/env python3
"""Memory-return scenario: RSS over time of bench/memreturn.c under several allocators.

The program allocates a working set of mixed sizes, writes it, frees it in random order and then
stays nearly idle; this driver samples the child's RSS with psutil every few milliseconds, aligns
the trace on the program's PHASE lines, and reports how much of the working set is still resident
(above the pre-working-set level) 1 s and 3 s after the last free, plus the time until at most 5 %
remains. It writes bench/results/memreturn/{runs.json,summary.md} and a chart (docs/memreturn.png).

usage: python3 bench/memreturn.py [--allocators hakmem-balanced,glibc,...] [--reps 3]
                                  [--bytes 1g] [--idle 5] [--tick-ms 0] [--env K=V ...]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from hakmem.bench import suite  # noqa: E402

PEERS = {
    "glibc": None,
    "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
}
OUT = ROOT / "bench" / "results" / "memreturn"


def preload_of(name: str) -> str | None:
    if name.startswith("hakmem-"):
        return str(ROOT / "out" / name.split("-", 1)[1] / "release" / "libhakmem.so")
    return PEERS[name]


def run_once(binary: Path, name: str, args: list[str], env_extra: dict[str, str],
             period: float = 0.005) -> dict:
    import psutil

    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_") and k != "LD_PRELOAD"}
    pre = preload_of(name)
    if pre:
        env["LD_PRELOAD"] = pre
    if name.startswith("hakmem-"):
        env.update(env_extra)
    t0 = time.monotonic()
    proc = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE, text=True, env=env)
    ps = psutil.Process(proc.pid)
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            try:
                samples.append((time.monotonic() - t0, ps.memory_info().rss))
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                break
            time.sleep(period)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    phases: dict[str, dict] = {}
    result = ""
    for line in proc.stdout:  # type: ignore[union-attr]
        now = time.monotonic() - t0
        if line.startswith("PHASE "):
            kv = dict(tok.split("=", 1) for tok in line.split()[1:])
            phases[kv["name"]] = {"t": now, "rss_kib": int(kv["rss_kib"])}
        elif line.startswith("RESULT "):
            result = line.strip()
    proc.wait()
    done.set()
    th.join()
    base = phases["start"]["rss_kib"] * 1024
    ws = int(next(t.split("=")[1] for t in result.split() if t.startswith("bytes=")))
    tf = phases["freed"]["t"]
    te = phases["end"]["t"]
    trace = [(t - tf, (rss - base) / ws) for t, rss in samples if t <= te]

    def retained_at(dt: float) -> float | None:
        after = [r for t, r in trace if t >= dt]
        return after[0] if after else None

    below = next((t for t, r in trace if t >= 0 and r <= 0.05 and
                  all(r2 <= 0.05 for t2, r2 in trace if t2 >= t)), None)
    return {"allocator": name, "returncode": proc.returncode, "phases": phases, "base_bytes": base,
            "working_set": ws, "retained_at_freed": retained_at(0.0), "retained_1s": retained_at(1.0),
            "retained_3s": retained_at(3.0), "time_to_5pct": below, "peak_retained": max(r for _, r in trace),
            "trace": trace}


def chart(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    seen = set()
    for r in runs:
        if r["allocator"] in seen:
            continue          # the first repetition of each allocator
        seen.add(r["allocator"])
        t = [x for x, _ in r["trace"]]
        y = [100 * v for _, v in r["trace"]]
        ax.plot(t, y, label=r["allocator"], lw=1.6)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.axhline(5, color="red", lw=0.8, ls="--", label="5 % target")
    ax.axvline(3, color="red", lw=0.8, ls=":")
    ax.set_xlabel("seconds since the last free()")
    ax.set_ylabel("RSS above the pre-working-set level, % of the working set")
    ws = runs[0]["working_set"] / (1 << 30)
    ax.set_title(f"Giving memory back: {ws:.2f} GiB of 64 B–256 KiB blocks written, freed, then idle")
    ax.set_ylim(-2, 115)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--allocators", default="hakmem-balanced,hakmem-fast,glibc,mimalloc,jemalloc,tcmalloc")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bytes", default="1g")
    ap.add_argument("--idle", type=int, default=5)
    ap.add_argument("--tick-ms", type=int, default=0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--env", action="append", default=[], help="K=V for the hakmem runs")
    ap.add_argument("--chart", default=str(ROOT / "docs" / "memreturn.png"))
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    binary = suite.build_program("memreturn")
    env_extra = dict(kv.split("=", 1) for kv in a.env)
    args = [a.bytes, "64", "262144", str(a.seed), str(a.idle), str(a.tick_ms)]
    names = a.allocators.split(",")
    runs = []
    for rep in range(a.reps):
        for name in names:            # alternate allocators within each repetition
            r = run_once(binary, name, args, env_extra)
            r["rep"] = rep
            runs.append(r)
            print(f"{name:16s} rep {rep}: retained at free {100 * r['retained_at_freed']:6.1f} %  "
                  f"1 s {100 * r['retained_1s']:6.1f} %  3 s {100 * r['retained_3s']:6.1f} %  "
                  f"<=5 % after {r['time_to_5pct'] if r['time_to_5pct'] is not None else '-'} s", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs.json").write_text(json.dumps({"args": args, "env": env_extra, "runs": runs}))
    lines = ["| allocator | retained at last free | after 1 s | after 3 s | time to ≤ 5 % | alloc+touch s |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        rs = [r for r in runs if r["allocator"] == name]
        med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
        t5 = [r["time_to_5pct"] for r in rs if r["time_to_5pct"] is not None]
        alloc_s = statistics.median(r["phases"]["allocated"]["t"] - r["phases"]["start"]["t"] for r in rs)
        lines.append(f"| {name} | {100 * med('retained_at_freed'):.1f} % | {100 * med('retained_1s'):.1f} % | "
                     f"{100 * med('retained_3s'):.1f} % | "
                     f"{(f'{statistics.median(t5):.2f} s' if len(t5) == len(rs) else 'never')} | {alloc_s:.2f} |")
    table = "\n".join(lines)
    (out / "summary.md").write_text(table + "\n")
    print(table)
    chart(runs, Path(a.chart))
    return 0


if __name__ == "__main__":
    sys.exit(main())
