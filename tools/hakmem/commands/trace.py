"""hakmem trace: look at an allocation trace (HAKMEM_TRACE_ALLOCATIONS=1, research mode) and replay it
against allocators, so a program's own allocation pattern becomes a benchmark.

  hakmem trace summarize FILE [--json]
  hakmem trace replay FILE [--allocator hakmem-fast --allocator glibc ...] [--runs N] [--json]

Without --allocator, replay compares the mode that recorded the trace (named in its header) with glibc."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trace", help="summarize or replay an allocation trace", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    tsub = p.add_subparsers(dest="trace_command", metavar="ACTION")
    s = tsub.add_parser("summarize", help="size histogram, lifetimes, per-thread traffic")
    s.add_argument("file", type=Path)
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--threads", type=int, default=16, help="threads listed (default 16)")
    s.set_defaults(func=summarize)
    r = tsub.add_parser("replay", help="replay the trace under one or more allocators")
    r.add_argument("file", type=Path)
    r.add_argument("--allocator", "-a", action="append",
                   help="hakmem-<mode>, glibc, mimalloc, jemalloc, tcmalloc or NAME=/path/lib.so "
                        "(repeat to compare; default: hakmem-<the trace's mode> and glibc)")
    r.add_argument("--runs", type=int, default=3, help="runs per allocator, alternating (median; default 3)")
    r.add_argument("--repeat", type=int, default=1, help="passes over the trace within one run")
    r.add_argument("--touch", type=int, default=64, help="bytes written into each block (default 64)")
    r.add_argument("--no-build", action="store_true", help="do not run scons for hakmem-<mode>")
    r.add_argument("--json", action="store_true", help="print the results as JSON")
    r.set_defaults(func=replay)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def summarize(args: argparse.Namespace) -> int:
    from hakmem.diag import tracefile

    try:
        tr = tracefile.read(args.file)
    except (OSError, tracefile.TraceError) as exc:
        print(f"hakmem trace: {exc}", file=sys.stderr)
        return 1
    s = tracefile.summarize(tr)
    if args.json:
        print(json.dumps(s.to_dict(), indent=2))
    else:
        print(tracefile.format_summary(s, args.threads))
    return 0


def replay(args: argparse.Namespace) -> int:
    from hakmem.diag import replay as rp
    from hakmem.diag import tracefile

    chosen = None
    try:
        tracefile.read(args.file) if args.file.stat().st_size < (1 << 20) else None
        if args.allocator:
            names = list(dict.fromkeys(args.allocator))
        else:
            names, chosen = rp.default_allocators(args.file)
    except (OSError, tracefile.TraceError, rp.ReplayError) as exc:
        print(f"hakmem trace: {exc}", file=sys.stderr)
        return 1
    runs: dict[str, list[dict]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    for _ in range(max(1, args.runs)):
        for n in names:               # alternate allocators within each round: fair on a noisy machine
            if n in errors:
                continue
            try:
                res = rp.run(args.file, n, repeat=args.repeat, touch=args.touch, build=not args.no_build)
                runs[n].append(res.to_dict())
            except (rp.ReplayError, OSError) as exc:
                errors[n] = str(exc)
    rows = []
    for n in names:
        rs = runs[n]
        if not rs:
            rows.append({"allocator": n, "status": errors.get(n, "no runs")})
            continue
        rows.append({"allocator": n, "status": "ok", "runs": len(rs),
                     "ops": rs[0]["ops"], "anomalies": rs[0]["anomalies"], "failed": rs[0]["failed"],
                     "seconds": statistics.median(r["seconds"] for r in rs),
                     "ns_per_op": statistics.median(r["ns_per_op"] for r in rs),
                     "rss_growth_kib": statistics.median(r["rss_growth_kib"] for r in rs),
                     "checksum": rs[0]["checksum"]})
    base = next((r for r in rows if r["status"] == "ok"), None)
    for r in rows:
        if r["status"] == "ok" and base:
            r["ratio"] = base["seconds"] / r["seconds"] if r["seconds"] else None
    if args.json:
        doc = {"trace": str(args.file), "results": rows}
        if chosen:
            doc["chosen"] = chosen
        print(json.dumps(doc, indent=2))
    else:
        if chosen:
            print(chosen)
        print(f"replay of {args.file} ({base['ops'] if base else 0} operations, median of {args.runs} runs; "
              f"speed relative to {base['allocator'] if base else '-'})")
        print(f"  {'allocator':<20} {'ns/op':>9} {'seconds':>9} {'speed':>7} {'RSS growth':>12}")
        for r in rows:
            if r["status"] != "ok":
                print(f"  {r['allocator']:<20} {r['status']}")
                continue
            print(f"  {r['allocator']:<20} {r['ns_per_op']:>9.1f} {r['seconds']:>9.4f} "
                  f"{r.get('ratio') or 0:>6.2f}x {r['rss_growth_kib']:>9} KiB")
    return 0 if not errors else 1
