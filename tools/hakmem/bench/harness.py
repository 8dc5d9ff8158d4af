"""The whole benchmark run: resolve allocators, build programs, alternate runs,
aggregate, count instructions, write every output."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hakmem import ROOT
from hakmem.bench import allocators as alloc_mod
from hakmem.bench import callgrind, charts, machine, report, stats, suite
from hakmem.bench.progress import Progress
from hakmem.bench.runner import Run, run_program


@dataclass
class Config:
    allocators: list[str] = field(default_factory=lambda: list(alloc_mod.DEFAULT_ALLOCATORS))
    scenarios: list[str] | None = None
    runs: int = 9
    warmup: int = 1
    baseline: str = "glibc"
    quick: bool = False
    callgrind: bool = False
    syscalls: bool = True          # one extra profile run per pair for syscall counts
    out: Path = ROOT / "bench" / "results"
    timeout: float = 300.0
    env: dict[str, str] = field(default_factory=dict)   # HAKMEM_* knobs for hakmem runs
    build: bool = True
    charts: bool = True
    progress: bool = True
    command: str = "hakmem bench"
    matrix: bool = False
    scenario_args: dict[str, list[str]] = field(default_factory=dict)  # overrides, by name
    callgrind_ns: tuple[int, int] | None = None   # loop counts, 32 B pair (default by quick)
    callgrind_large_ns: tuple[int, int] | None = None   # the same for the 2 MiB pair
    bench_dir: Path = suite.BENCH_OUT
    src_dir: Path = suite.BENCH_SRC
    root: Path = ROOT


def run(cfg: Config) -> dict:
    started = time.time()
    names = list(cfg.allocators)
    if cfg.baseline and cfg.baseline not in names:
        names.append(cfg.baseline)
    if cfg.progress and cfg.build and any(n.startswith("hakmem-") for n in names):
        print("hakmem bench: bringing hakmem libraries up to date (scons)...",
              file=sys.stderr, flush=True)
    allocs = alloc_mod.resolve_all(names, cfg.root, cfg.build, cfg.bench_dir / "logs")
    built_from = machine.describe()   # the tree the libraries were just built from, not the one at the end
    usable = [a for a in allocs if a.usable]
    scenarios = suite.select(cfg.scenarios)
    binaries = {s.program: suite.build_program(s.program, cfg.bench_dir, cfg.src_dir)
                for s in scenarios}

    plan: list[tuple[int, str, suite.Scenario, alloc_mod.Allocator]] = []
    # Repetition-major, allocators rotated each repetition: every allocator meets
    # the machine's noisy moments equally often and in no fixed order.
    for rep in range(-cfg.warmup, cfg.runs):
        for s in scenarios:
            k = rep % len(usable) if usable else 0
            for a in usable[k:] + usable[:k]:
                plan.append((rep, "warmup" if rep < 0 else "measure", s, a))
    if cfg.syscalls:
        for s in scenarios:
            for a in usable:
                plan.append((cfg.runs, "profile", s, a))
    # callgrind: one null loop per distinct (N1, N2), then every size x usable allocator
    cg_steps = (len(set(_cg_loops(cfg).values())) + len(callgrind.SIZES) * len(usable)
                if cfg.callgrind and callgrind.available() else 0)
    bar = Progress(len(plan) + cg_steps, enabled=cfg.progress)
    for a in allocs:
        if not a.usable:
            bar.note(f"{a.name}: {a.status}" + (f" ({a.detail})" if a.detail else ""))

    runs: list[Run] = []
    def argv(s: suite.Scenario) -> list[str]:
        return list(cfg.scenario_args.get(s.name, s.argv(cfg.quick)))

    interrupted = False
    try:
        for rep, kind, s, a in plan:
            r = run_program(binaries[s.program], argv(s), a, scenario=s.name, rep=rep,
                            kind=kind, timeout=cfg.timeout, env=cfg.env)
            runs.append(r)
            if not r.ok:
                bar.note(f"{s.name} under {a.name}: {r.status}: {r.command}")
            bar.step(f"{s.name} / {a.name}")
    except KeyboardInterrupt:
        # Keep what was measured: the outputs are written from the runs so far.
        interrupted = True
        bar.note("interrupted: writing the results of the runs completed so far")

    cg: list[callgrind.PairCount] = []
    if cfg.callgrind and not interrupted:
        cg = _callgrind(cfg, allocs, bar)

    summaries = stats.summarize(runs, [s.name for s in scenarios], allocs, cfg.baseline)
    results = {
        "meta": {
            "command": cfg.command,
            "machine": built_from,
            "runs": cfg.runs,
            "warmup": cfg.warmup,
            "quick": cfg.quick,
            "matrix": cfg.matrix,
            "interrupted": interrupted,
            "baseline": cfg.baseline,
            "env": cfg.env,
            "duration_s": round(time.time() - started, 1),
        },
        "allocators": [a.to_dict() for a in allocs],
        "scenarios": [{"name": s.name, "program": s.program,
                       "args": argv(s), "unit": s.unit, "what": s.what,
                       "threads": s.threads} for s in scenarios],
        "summary": [s.to_dict() for s in summaries],
        "callgrind": [c.to_dict() for c in cg],
        "problems": stats.problems(runs, summaries) + _cg_problems(cg),
        "runs": [r.to_dict() for r in runs],
    }
    write_outputs(results, cfg.out, charts_too=cfg.charts)
    return results


def _callgrind(cfg: Config, allocs, bar: Progress) -> list[callgrind.PairCount]:
    if not callgrind.available():
        bar.note("callgrind: valgrind is not installed; skipped")
        return [callgrind.PairCount(a.name, size=size, status="valgrind not installed")
                for size in callgrind.SIZES for a in allocs]
    binary = suite.build_program(suite.CALLGRIND_PROGRAM, cfg.bench_dir, cfg.src_dir)
    loops = _cg_loops(cfg)
    # The null loop's count per iteration is the same for any N but for the few
    # instructions that print N, which over a small N2 - N1 no longer vanish: it is
    # measured with the very N1, N2 each size's figure uses.
    overhead = {}
    for ns in dict.fromkeys(loops.values()):
        overhead[ns] = callgrind.loop_overhead(binary, ns)
        bar.step(f"callgrind / loop N={ns[0]},{ns[1]}")
    out = []
    for size, ns in loops.items():
        for a in allocs:
            out.append(callgrind.measure(binary, a, ns, overhead[ns], size))
            if a.usable:
                bar.step(f"callgrind / {a.name} / {callgrind.size_label(size)}")
    return out


def _cg_loops(cfg: Config) -> dict[int, tuple[int, int]]:
    """Loop counts (N1, N2) for each pair size; sizes sharing counts share one
    null-loop measurement."""
    given = {callgrind.SMALL: cfg.callgrind_ns, callgrind.LARGE: cfg.callgrind_large_ns}
    return {size: given.get(size) or callgrind.loop_counts(size, cfg.quick)
            for size in callgrind.SIZES}


def _cg_problems(cg: list[callgrind.PairCount]) -> list[dict]:
    return [{"scenario": "callgrind", "allocator": c.allocator, "problem": c.status,
             "command": c.command, "stderr": ""}
            for c in cg if c.status not in ("ok",) and not c.status.startswith(
                (alloc_mod.NOT_INSTALLED, alloc_mod.BUILD_FAILED, alloc_mod.NOT_AN_ALLOCATOR,
                 "valgrind not installed"))]


def write_outputs(results: dict, out: Path, charts_too: bool = True) -> list[Path]:
    """results.json, runs.csv, summary.csv, callgrind.csv, table.md and the PNGs."""
    out.mkdir(parents=True, exist_ok=True)
    written = [report.write_json(results, out / "results.json"),
               report.write_runs_csv(results, out / "runs.csv"),
               report.write_summary_csv(results, out / "summary.csv")]
    if results.get("callgrind"):
        written.append(report.write_callgrind_csv(results, out / "callgrind.csv"))
    if charts_too:
        written += charts.render_all(results, out)
    md = report.markdown(results, image_dir=out if charts_too else None, md_dir=out)
    (out / "table.md").write_text(md)
    written.append(out / "table.md")
    return written


def load(path: Path) -> dict:
    """A results.json written earlier (for re-rendering the tables and charts)."""
    if path.is_dir():
        path = path / "results.json"
    return json.loads(path.read_text())
