#!/usr/bin/env python3
"""Programs other people wrote, under each allocator: python3, sqlite3, gcc and a redis server under
redis-benchmark, each run --runs times, alternating between allocators (the order rotates every
repetition), after one warm-up repetition. Reports the median wall time (redis: the median requests
per second redis-benchmark reports), its ratio against the first allocator, and the median peak RSS
of the program (the redis server's, not the client's), as a markdown table.

Allocators are named as for `hakmem bench`: hakmem-<mode> (out/<mode>/release/libhakmem.so, built by
scons if missing), glibc, mimalloc, jemalloc, tcmalloc.

usage: python3 bench/programs.py [--allocators hakmem-balanced,hakmem-fast,...] [--programs python,...]
                                 [--runs 5] [--out FILE.md]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from hakmem.bench import allocators as allocs  # noqa: E402

PYTHON_WORK = """
import json, random
random.seed(7)
docs = [{"id": i, "name": "n%d" % i, "tags": [random.random() for _ in range(8)],
         "child": {"k": str(i) * 3}} for i in range(60000)]
for _ in range(4):
    text = json.dumps(docs)
    docs = json.loads(text)
    index = {}
    for d in docs:
        index.setdefault(d["name"][:3], []).append(d)
print(len(text), len(index))
"""

SQLITE_WORK = """
CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c REAL);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000)
INSERT INTO t(a, b, c) SELECT printf('row-%08d-%s', x, hex(randomblob(8))), x % 977, x * 0.5 FROM n;
CREATE INDEX ta ON t(a);
CREATE INDEX tb ON t(b, c);
SELECT b, count(*), sum(c) FROM t GROUP BY b ORDER BY 2 DESC LIMIT 3;
SELECT count(*) FROM t WHERE a LIKE 'row-0001%';
"""

GCC_SOURCE = ROOT / "bench" / "json_parse.c"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(preload: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_") and k != "LD_PRELOAD"}
    if preload:
        env["LD_PRELOAD"] = preload
    return env


def _timed_rss(cmd: list[str], preload: str | None, stdin: str | None = None):
    """(seconds, peak RSS KiB, stdout) of one run. GNU time measures the RSS: a child of this Python
    process would report this process's peak too (the kernel carries it over fork and exec)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], input=stdin,
                              capture_output=True, text=True, env=_env(preload))
        secs = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return secs, float(rss.read().split()[-1]), proc.stdout


def program_python(preload):
    return _timed_rss([sys.executable, "-c", PYTHON_WORK], preload)


def program_sqlite(preload):
    with tempfile.TemporaryDirectory() as d:
        return _timed_rss(["sqlite3", str(Path(d) / "t.db")], preload, stdin=SQLITE_WORK)


def program_gcc(preload):
    with tempfile.TemporaryDirectory() as d:
        return _timed_rss(["gcc", "-O2", "-c", "-I", str(ROOT / "bench"), str(GCC_SOURCE), "-o",
                           str(Path(d) / "x.o")], preload)


def program_redis(preload):
    """redis-server under the allocator, redis-benchmark (glibc) against it: lpush/lrange pipelined."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as d, tempfile.NamedTemporaryFile("r") as rss:
        server = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name, "redis-server", "--port",
                                   str(port), "--save", "", "--appendonly", "no", "--dir", d],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(preload))
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            out = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-P", "16", "-n", "200000",
                                  "-t", "lpush,lrange_100,set,get"], capture_output=True, text=True,
                                 env=_env(None), timeout=300).stdout
        finally:
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True,
                           env=_env(None), timeout=30)
            server.wait(timeout=30)
        peak = float(rss.read().split()[-1])
    rates = [float(m) for m in re.findall(r"([0-9.]+) requests per second", out)]
    if not rates:
        raise RuntimeError(f"redis-benchmark printed no rates: {out[-300:]}")
    # one figure per run: the harmonic mean of the tests' rates (requests per second overall)
    overall = len(rates) / sum(1 / r for r in rates)
    return overall, peak, out


PROGRAMS = {
    "python": ("python3: 60k JSON documents dumped, parsed and indexed 4 times", program_python, "s"),
    "sqlite": ("sqlite3: 300k rows inserted, two indexes, group-by", program_sqlite, "s"),
    "gcc": ("gcc -O2 -c bench/json_parse.c", program_gcc, "s"),
    "redis": ("redis-server under redis-benchmark -P 16 (lpush, lrange_100, set, get; 200k each)",
              program_redis, "req/s"),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--allocators", default="hakmem-balanced,hakmem-fast,hakmem-learning,glibc,tcmalloc")
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    names = [n for n in args.allocators.split(",") if n]
    progs = [p for p in args.programs.split(",") if p]
    for p in progs:
        if p not in PROGRAMS:
            ap.error(f"unknown program {p!r} (known: {', '.join(PROGRAMS)})")
    alloc = {a.name: a for a in allocs.resolve_all(names, ROOT)}
    bad = [a for a in alloc.values() if not a.usable]
    if bad:
        for a in bad:
            print(f"programs.py: {a.name}: {a.status} {a.detail}", file=sys.stderr)
        return 2
    if not all(shutil.which(c) for c in ("sqlite3", "gcc", "redis-server", "redis-benchmark", "redis-cli",
                                         "/usr/bin/time")):
        print("programs.py: needs sqlite3, gcc, redis-server, redis-benchmark, redis-cli and GNU time "
              "(scripts/setup.sh)",
              file=sys.stderr)
        return 2
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for rep in range(args.runs + 1):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for prog in progs:
            for n in order:
                value, rss, _ = PROGRAMS[prog][1](alloc[n].preload)
                if rep:                                   # repetition 0 warms caches up
                    samples.setdefault((prog, n), []).append((value, rss))
        print(f"programs.py: repetition {rep}/{args.runs} done", file=sys.stderr)
    lines = [f"Command: `python3 bench/programs.py --allocators {','.join(names)} --programs "
             f"{','.join(progs)} --runs {args.runs}`; {args.runs} alternating runs after one warm-up, "
             f"medians; ratio against {names[0]} (above 1 is better: less time, more requests); "
             "peak RSS of the program (the server for redis).", ""]
    lines.append("| program | " + " | ".join(names) + " |")
    lines.append("| :--- |" + " ---: |" * len(names))
    for prog in progs:
        what, _, unit = PROGRAMS[prog]
        med = {n: statistics.median(v for v, _ in samples[(prog, n)]) for n in names}
        rss = {n: statistics.median(r for _, r in samples[(prog, n)]) for n in names}
        base = med[names[0]]
        cells = []
        for n in names:
            r = (base / med[n]) if unit == "s" else (med[n] / base)
            shown = f"{med[n]:.2f} s" if unit == "s" else f"{med[n] / 1000:.0f} k/s"
            cells.append(f"{shown} ({r:.2f}×), {rss[n] / 1024:.1f} MiB")
        lines.append(f"| {prog} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {p}: {PROGRAMS[p][0]}" for p in progs]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
