#!/usr/bin/env python3
"""What each mode costs, from one run of the mode matrix (`hakmem bench --matrix --allocators
glibc,mimalloc,jemalloc,tcmalloc --callgrind --out DIR`): learning against balanced and balanced
against fast per scenario, the single-threaded paths against the best peer, and peak RSS against the
memory target max(glibc x 1.2, glibc + 1 MiB). Every ratio is between medians of that one run, whose
allocators alternated; above 1 is better (faster, or per CPU-second more work). Prints markdown.

usage: python3 bench/mode_costs.py [DIR=bench/results/matrix]
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from hakmem.bench.report import mib  # noqa: E402

PEERS = ("glibc", "mimalloc", "jemalloc", "tcmalloc")
MODES = ("minimal", "fast", "balanced", "learning", "research", "hardened")
MIB = 1024   # KiB


def memory_target_kib(glibc_kib: float) -> float:
    """The issue's bound on a scenario's peak RSS: max(glibc x 1.2, glibc + 1 MiB)."""
    return max(glibc_kib * 1.2, glibc_kib + MIB)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| :--- |" + " ---: |" * (len(header) - 1)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


class Matrix:
    def __init__(self, results: dict):
        self.meta = results["meta"]
        self.scenarios = [s["name"] for s in results["scenarios"]]
        self.by = {(s["scenario"], s["allocator"]): s for s in results["summary"] if s["status"] == "ok"}
        self.cg = {(c["allocator"], c["size"]): c for c in results.get("callgrind", []) if c["status"] == "ok"}

    def get(self, scen: str, alloc: str, key: str) -> float | None:
        s = self.by.get((scen, alloc if alloc in PEERS else f"hakmem-{alloc}"))
        return None if s is None else s.get(key)

    def quotient(self, scen: str, a: str, b: str, key: str = "ops_per_sec") -> float | None:
        x, y = self.get(scen, a, key), self.get(scen, b, key)
        return x / y if x and y else None


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def modes_table(m: Matrix) -> str:
    rows, cols = [], [[] for _ in range(4)]
    for scen in m.scenarios:
        q = [m.quotient(scen, "learning", "balanced"), m.quotient(scen, "learning", "balanced", "cpu_ops_per_sec"),
             m.quotient(scen, "balanced", "fast"), m.quotient(scen, "balanced", "fast", "cpu_ops_per_sec")]
        for c, v in zip(cols, q):
            c.append(v)
        rss = f"{mib(m.get(scen, 'learning', 'maxrss_kib'))} / {mib(m.get(scen, 'balanced', 'maxrss_kib'))}"
        rows.append([f"`{scen}`", fmt(q[0]), fmt(q[1]), rss, fmt(q[2]), fmt(q[3])])
    rows.append(["geometric mean", fmt(geomean(cols[0])), fmt(geomean(cols[1])), "", fmt(geomean(cols[2])),
                 fmt(geomean(cols[3]))])
    return table(["scenario", "learning ÷ balanced (ops/s)", "per CPU-s", "peak RSS learning / balanced (MiB)",
                  "balanced ÷ fast (ops/s)", "per CPU-s"], rows)


def memory_table(m: Matrix) -> str:
    allocs = [a for a in MODES + PEERS[1:] if any(m.get(s, a, "maxrss_kib") for s in m.scenarios)]
    rows, over = [], {a: 0 for a in allocs}
    for scen in m.scenarios:
        glibc = m.get(scen, "glibc", "maxrss_kib")
        if not glibc:
            continue
        target = memory_target_kib(glibc)
        row = [f"`{scen}`", mib(glibc), mib(target)]
        for a in allocs:
            kib = m.get(scen, a, "maxrss_kib")
            above = kib is not None and kib > target
            over[a] += above
            row.append(f"**{mib(kib)}**" if above else mib(kib))
        rows.append(row)
    rows.append(["scenarios above the target", "", ""] + [str(over[a]) for a in allocs])
    return table(["scenario", "glibc", "target"] + list(allocs), rows)


def single_thread_table(m: Matrix) -> str:
    rows = []
    big = max((size for _, size in m.cg), default=None)
    if big:
        net = {a: m.cg.get((a if a in PEERS else f"hakmem-{a}", big), {}).get("net") for a in
               ("fast", "balanced", "learning") + PEERS}
        peer = min((a for a in PEERS if net[a]), key=lambda a: net[a], default=None)
        n = {a: "–" if v is None else f"{v:.0f}" for a, v in net.items()}
        rows.append([f"`malloc({big >> 20} MiB)+free`, instructions (callgrind, net)", n["fast"], n["balanced"],
                     n["learning"], f"{peer} {n[peer]}" if peer else "–"])
    for scen in ("size_batches", "vm", "random_mixed", "tiny_hot", "large"):
        best = max(PEERS, key=lambda a: m.get(scen, a, "ops_per_sec") or 0)
        rows.append([f"`{scen}`, ops/s against the best peer"] +
                    [f"{fmt(m.quotient(scen, a, best))}×" for a in ("fast", "balanced", "learning")] + [best])
    return table(["path", "hakmem-fast", "hakmem-balanced", "hakmem-learning", "best peer"], rows)


def report(results: dict) -> str:
    m = Matrix(results)
    meta = m.meta
    head = (f"From `{meta['command']}` (commit `{meta['machine'].get('commit', '?')}`, "
            f"{meta['runs']} alternating runs, medians).")
    return "\n\n".join([head, "### Learning against balanced, balanced against fast", modes_table(m),
                        "### Single-threaded paths against the best peer", single_thread_table(m),
                        "### Peak RSS (MiB) against max(glibc × 1.2, glibc + 1 MiB), **bold** above it",
                        memory_table(m)]) + "\n"


def main(argv: list[str]) -> int:
    d = Path(argv[1]) if len(argv) > 1 else ROOT / "bench" / "results" / "matrix"
    sys.stdout.write(report(json.loads((d / "results.json").read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
