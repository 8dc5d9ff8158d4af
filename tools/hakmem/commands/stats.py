"""hakmem stats: print a stats JSON file (HAKMEM_STATS_FILE, or hak_stats_json()) as tables and draw
a PNG chart: per-class traffic, cache hit rates, RSS over the intervals (HAKMEM_STATS_INTERVAL_SEC).

  HAKMEM_STATS_FILE=run.json hakmem run --mode balanced -- ./prog
  hakmem stats run.json --chart run.png"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="print a stats JSON file as tables, draw a chart",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="JSON written by HAKMEM_STATS_FILE")
    p.add_argument("--chart", type=Path, metavar="PNG",
                   help="write the chart here (default: FILE with .png; --no-chart to skip)")
    p.add_argument("--no-chart", action="store_true", help="tables only")
    p.add_argument("--verbose", "-v", action="store_true", help="every column and section")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hakmem.diag import statsview

    try:
        data = statsview.load(args.file)
    except (OSError, ValueError) as exc:
        print(f"hakmem stats: {exc}", file=sys.stderr)
        return 1
    print(statsview.render(data, verbose=args.verbose))
    if not args.no_chart:
        png = args.chart or args.file.with_suffix(".png")
        try:
            statsview.chart(data, png)
        except ImportError:
            print("hakmem stats: matplotlib is not installed; no chart", file=sys.stderr)
            return 0
        print(f"\nchart: {png}")
    return 0
