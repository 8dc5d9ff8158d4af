"""`hakmem bench`: run the benchmark suite across allocators and write the report.

    hakmem bench                       # hakmem-fast vs glibc, mimalloc, jemalloc, tcmalloc
    hakmem bench --quick               # about a minute: smaller inputs, 5 runs
    hakmem bench --matrix              # every hakmem mode x every scenario
    hakmem bench --callgrind           # plus instructions per malloc+free pair (32 B, 2 MiB)
    hakmem bench --render bench/results   # re-render tables and charts from results.json
    hakmem bench --doc docs/BENCHMARKS.md # also rewrite the report's generated section
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from hakmem import ROOT


def register(subparsers) -> None:
    from hakmem.bench import allocators, suite
    p = subparsers.add_parser(
        "bench", help="benchmark allocators (hakmem modes, glibc, mimalloc, jemalloc, tcmalloc)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--allocators", metavar="LIST",
                   help="comma-separated: hakmem-<mode>, glibc, mimalloc, jemalloc, tcmalloc, "
                        f"NAME=/path/lib.so (default {','.join(allocators.DEFAULT_ALLOCATORS)})")
    p.add_argument("--scenarios", metavar="LIST",
                   help=f"comma-separated subset of: {','.join(suite.SCENARIOS)} (default: all but "
                        f"{','.join(n for n in suite.SCENARIOS if n not in suite.DEFAULT_SCENARIOS)}"
                        "; every one with --matrix)")
    p.add_argument("--runs", type=int, help="measured runs per scenario and allocator "
                                            "(default 9; 5 with --quick or --matrix)")
    p.add_argument("--warmup", type=int, help="warm-up runs, not measured (default 1, --quick 0)")
    p.add_argument("--baseline", help="allocator the ratios are against "
                                      "(default glibc; hakmem-minimal with --matrix)")
    p.add_argument("--quick", action="store_true",
                   help="minute-long smoke: inputs a tenth of the size, 5 runs, no warm-up")
    p.add_argument("--matrix", action="store_true",
                   help="the mode matrix: every hakmem mode (plus --allocators, if given) "
                        "x every scenario")
    p.add_argument("--callgrind", action="store_true",
                   help="count instructions per malloc+free pair (32 B and 2 MiB) "
                        "under valgrind")
    p.add_argument("--no-syscalls", dest="syscalls", action="store_false",
                   help="skip the extra profile run that counts memory syscalls")
    p.add_argument("--env", action="append", default=[], metavar="HAKMEM_KNOB=VALUE",
                   help="environment for the hakmem allocators' runs (repeatable)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per run (default 300)")
    p.add_argument("--no-build", dest="build", action="store_false",
                   help="do not run scons for a missing hakmem library")
    p.add_argument("--no-charts", dest="charts", action="store_false", help="skip PNG charts")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar on stderr")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output directory (default bench/results; bench/results/tmp/quick "
                        "with --quick; bench/results/matrix with --matrix)")
    p.add_argument("--doc", type=Path, metavar="FILE",
                   help="also rewrite the generated section of a report document "
                        "(e.g. docs/BENCHMARKS.md; section 'main', or 'matrix' with --matrix)")
    p.add_argument("--render", type=Path, metavar="DIR_OR_JSON",
                   help="only re-render table.md, CSVs and charts from an earlier results.json")
    p.set_defaults(func=main)


def _split(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def main(args: argparse.Namespace) -> int:
    from hakmem.bench import allocators, harness, report, suite
    if args.render:
        results = harness.load(args.render)
        out = args.out or (args.render if args.render.is_dir() else args.render.parent)
        for path in harness.write_outputs(results, out, charts_too=args.charts):
            print(path)
        if args.doc:
            print(report.update_document(args.doc, results, out if args.charts else None))
        return 0

    names = _split(args.allocators)
    if args.matrix:
        modes = [f"hakmem-{m}" for m in allocators.hakmem_modes()]
        names = modes + [n for n in (names or []) if n not in modes]
        baseline = args.baseline or ("hakmem-minimal" if "hakmem-minimal" in modes else names[0])
    else:
        names = names or list(allocators.DEFAULT_ALLOCATORS)
        baseline = args.baseline or "glibc"
    env = {}
    for item in args.env:
        if "=" not in item:
            print(f"hakmem bench: --env wants KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        k, v = item.split("=", 1)
        env[k] = v
    out = args.out or (ROOT / "bench" / "results" / "tmp" / "quick" if args.quick
                       else ROOT / "bench" / "results" / "matrix" if args.matrix
                       else ROOT / "bench" / "results")
    try:
        scenarios = suite.select(_split(args.scenarios), every=args.matrix)
    except ValueError as exc:
        print(f"hakmem bench: {exc}", file=sys.stderr)
        return 2
    cfg = harness.Config(
        allocators=names,
        scenarios=[s.name for s in scenarios],
        runs=args.runs if args.runs is not None else (5 if args.quick or args.matrix else 9),
        warmup=args.warmup if args.warmup is not None else (0 if args.quick else 1),
        baseline=baseline,
        quick=args.quick,
        callgrind=args.callgrind,
        syscalls=args.syscalls,
        out=out,
        timeout=args.timeout,
        env=env,
        build=args.build,
        charts=args.charts,
        progress=args.progress,
        matrix=args.matrix,
        command="hakmem bench " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        if len(sys.argv) > 1 and sys.argv[1] == "bench" else "hakmem bench",
    )
    if cfg.runs < 1:
        print("hakmem bench: --runs must be at least 1", file=sys.stderr)
        return 2
    results = harness.run(cfg)
    print((out / "table.md").read_text())
    if args.doc:
        report.update_document(args.doc, results, out if args.charts else None)
        print(f"updated {args.doc}", file=sys.stderr)
    print(f"results: {out}", file=sys.stderr)
    if results["meta"].get("interrupted"):
        return 130
    probs = results["problems"]
    if probs:
        print(f"hakmem bench: {len(probs)} problem(s), see 'Problems' in {out / 'table.md'}",
              file=sys.stderr)
        return 1
    return 0
