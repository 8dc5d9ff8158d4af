#!/usr/bin/env python3
"""Memory syscalls per scenario and mode, from hakmem's own counters.

Every mode's .so exports hak_stats_json(), including the modes built without the stats feature;
bench/statshim.c (preloaded after libhakmem.so) writes it at exit. For each scenario this prints the
mmap / munmap / madvise counts of every mode, and of the balanced mode with BigCache off
(HAKMEM_BIGCACHE_MAX_MB=0) and with memory returned at once (HAKMEM_FREE_POLICY=immediate), so the
table shows what BigCache and batching save. Writes bench/results/syscalls/{syscalls.json,table.md}.

usage: python3 bench/syscalls.py [--modes minimal,fast,balanced,learning,research] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from hakmem.bench import suite  # noqa: E402

OUT = ROOT / "bench" / "results" / "syscalls"

SCENARIOS = {
    "vm": ("vm", ["2000", "2097152"]),
    "large": ("large", ["20000", "65536", "1048576", "42"]),
    "mid_large": ("mid_large", ["200000", "8192", "32768", "42"]),
    "cold_churn": ("cold_churn", ["4", "32m", "4096", "42"]),
    "memreturn": ("memreturn", ["256m", "64", "262144", "42", "2"]),
}
ABLATIONS = [
    ("balanced", {}),
    ("balanced, BigCache off", {"HAKMEM_BIGCACHE_MAX_MB": "0"}),
    ("balanced, free_policy=immediate", {"HAKMEM_FREE_POLICY": "immediate"}),
    ("balanced, free_policy=batch", {"HAKMEM_FREE_POLICY": "batch"}),
]


def build_shim() -> Path:
    out = ROOT / "out" / "bench" / "statshim.so"
    src = ROOT / "bench" / "statshim.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([suite.compiler(), "-O2", "-shared", "-fPIC", "-o", str(out), str(src), "-ldl"],
                       check=True)
    return out


def run(binary: Path, args: list[str], mode: str, env_extra: dict[str, str], shim: Path) -> dict:
    so = ROOT / "out" / mode / "release" / "libhakmem.so"
    with tempfile.TemporaryDirectory() as d:
        stats = Path(d) / "s.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_")}
        env.update(env_extra)
        env["LD_PRELOAD"] = f"{so} {shim}"
        env["HAKSHIM_STATS_FILE"] = str(stats)
        p = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=600)
        data = json.loads(stats.read_text()) if stats.exists() else {}
    res = next((l for l in p.stdout.splitlines() if l.startswith("RESULT ")), "")
    kv = dict(t.split("=", 1) for t in res.split()[1:] if "=" in t)
    mem = data.get("memory", {})
    bc = mem.get("bigcache", {})
    return {"syscalls": data.get("syscalls", {}), "ns_per_op": float(kv.get("ns_per_op", "nan")),
            "bigcache_hits": bc.get("hits"), "bigcache_misses": bc.get("misses"),
            "decay_madvise": mem.get("decay", {}).get("madvise_calls"),
            "rss_kib": data.get("process", {}).get("rss_bytes", 0) // 1024, "rc": p.returncode}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="minimal,fast,balanced,learning,research")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    a = ap.parse_args()
    shim = build_shim()
    rows = []
    configs = [(m, m, {}) for m in a.modes.split(",")] + \
              [(label, "balanced", env) for label, env in ABLATIONS[1:]]
    for sc in a.scenarios.split(","):
        prog, args = SCENARIOS[sc]
        binary = suite.build_program(prog)
        for label, mode, env in configs:
            r = run(binary, args, mode, env, shim)
            r.update({"scenario": sc, "config": label, "mode": mode, "env": env})
            rows.append(r)
            s = r["syscalls"]
            print(f"{sc:10s} {label:34s} mmap {s.get('mmap', '?'):>7} munmap {s.get('munmap', '?'):>7} "
                  f"madvise {s.get('madvise', '?'):>7}  ns/op {r['ns_per_op']:.0f}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "syscalls.json").write_text(json.dumps(rows, indent=1))
    lines = ["| scenario | configuration | mmap | munmap | madvise | BigCache hits / misses | ns/op (1 run) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        s = r["syscalls"]
        bc = f"{r['bigcache_hits']} / {r['bigcache_misses']}" if r["bigcache_hits"] is not None else "—"
        lines.append(f"| {r['scenario']} | {r['config']} | {s.get('mmap', '?')} | {s.get('munmap', '?')} | "
                     f"{s.get('madvise', '?')} | {bc} | {r['ns_per_op']:.0f} |")
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
