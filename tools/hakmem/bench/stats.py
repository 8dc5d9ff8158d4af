"""Aggregation: medians with min-max, ratios against a baseline, and correctness
checks (failed runs, checksums that disagree between allocators)."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, asdict, field

from hakmem.bench.runner import Run


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def spread(values: list[float]) -> tuple[float | None, float | None]:
    return (min(values), max(values)) if values else (None, None)


@dataclass
class Summary:
    scenario: str
    allocator: str
    status: str                    # ok | not installed | build failed | crash ... | checksum mismatch
    runs: int = 0                  # measured runs that succeeded
    failed: int = 0                # measured runs that did not
    ops_per_sec: float | None = None
    ops_per_sec_min: float | None = None
    ops_per_sec_max: float | None = None
    ns_per_op: float | None = None
    seconds: float | None = None
    cv_pct: float | None = None    # coefficient of variation of throughput
    ratio: float | None = None     # median throughput / baseline median throughput
    cpu_ops_per_sec: float | None = None   # ops per CPU-second of the measured region
    cpu_ops_per_sec_min: float | None = None
    cpu_ops_per_sec_max: float | None = None
    cpu_ratio: float | None = None
    maxrss_kib: float | None = None
    maxrss_kib_min: float | None = None
    maxrss_kib_max: float | None = None
    rss_ratio: float | None = None
    minflt: float | None = None
    majflt: float | None = None
    syscalls: int | None = None
    kernel_syscalls: int | None = None
    checksum: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(runs: list[Run], scenarios: list[str], allocators: list, baseline: str | None
              ) -> list[Summary]:
    """One Summary per (scenario, allocator), in the order given."""
    by_key: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by_key.setdefault((r.scenario, r.allocator), []).append(r)
    out: list[Summary] = []
    for scen in scenarios:
        # Time-limited programs may stop early; the checksum depends on the number of
        # ops, so runs are only compared with runs of the same length.
        mine_all = [r for r in runs if r.scenario == scen and r.kind != "profile"]
        reference = {ops: reference_checksum([r for r in mine_all if r.ops == ops], baseline)
                     for ops in {r.ops for r in mine_all if r.ok}}
        rows: list[Summary] = []
        for alloc in allocators:
            if not alloc.usable:
                rows.append(Summary(scen, alloc.name, alloc.status,
                                    notes=[alloc.detail] if alloc.detail else []))
                continue
            mine = by_key.get((scen, alloc.name), [])
            rows.append(_one(scen, alloc.name, mine, reference))
        base = next((s for s in rows if s.allocator == baseline and s.ops_per_sec), None)
        for s in rows:
            if base and s.ops_per_sec:
                s.ratio = s.ops_per_sec / base.ops_per_sec
            if base and s.cpu_ops_per_sec and base.cpu_ops_per_sec:
                s.cpu_ratio = s.cpu_ops_per_sec / base.cpu_ops_per_sec
            if base and s.maxrss_kib and base.maxrss_kib:
                s.rss_ratio = s.maxrss_kib / base.maxrss_kib
        out.extend(rows)
    return out


def reference_checksum(runs: list[Run], baseline: str | None) -> str | None:
    """The checksum every correct allocator must produce for this scenario: the
    baseline's when it has one, else the most common one."""
    sums = [r.checksum for r in runs if r.ok and r.checksum]
    if not sums:
        return None
    base = [r.checksum for r in runs if r.ok and r.checksum and r.allocator == baseline]
    if base:
        return Counter(base).most_common(1)[0][0]
    return Counter(sums).most_common(1)[0][0]


def _one(scen: str, alloc: str, runs: list[Run], reference: dict) -> Summary:
    measured = [r for r in runs if r.kind == "measure"]
    good = [r for r in measured if r.ok]
    bad = [r for r in runs if not r.ok]
    s = Summary(scen, alloc, "ok", runs=len(good), failed=len([r for r in measured if not r.ok]))
    wrong = [r for r in runs if r.ok and r.checksum and reference.get(r.ops)
             and r.checksum != reference[r.ops]]
    if bad:
        s.status = bad[0].status
        s.notes.append(f"{len(bad)} of {len(runs)} runs failed: {bad[0].status}")
    if wrong:
        s.status = "checksum mismatch"
        s.notes.append(f"{len(wrong)} runs gave checksum {wrong[0].checksum}, "
                       f"expected {reference[wrong[0].ops]}")
    thr = [r.ops_per_sec for r in good if r.ops_per_sec]
    if thr:
        s.ops_per_sec = median(thr)
        s.ops_per_sec_min, s.ops_per_sec_max = spread(thr)
        if len(thr) > 1 and statistics.mean(thr) > 0:
            s.cv_pct = 100.0 * statistics.stdev(thr) / statistics.mean(thr)
    cpu = [r.cpu_ops_per_sec for r in good if r.cpu_ops_per_sec]
    if cpu:
        s.cpu_ops_per_sec = median(cpu)
        s.cpu_ops_per_sec_min, s.cpu_ops_per_sec_max = spread(cpu)
    s.ns_per_op = median([r.ns_per_op for r in good if r.ns_per_op])
    s.seconds = median([r.seconds for r in good if r.seconds])
    rss = [float(r.maxrss_kib) for r in good if r.maxrss_kib]
    if rss:
        s.maxrss_kib = median(rss)
        s.maxrss_kib_min, s.maxrss_kib_max = spread(rss)
    s.minflt = median([float(r.minflt) for r in good if r.minflt is not None])
    s.majflt = median([float(r.majflt) for r in good if r.majflt is not None])
    profile = [r for r in runs if r.kind == "profile" and r.ok]
    if profile:
        s.syscalls = profile[-1].syscalls
        s.kernel_syscalls = profile[-1].kernel_syscalls
    checks = [r.checksum for r in good if r.checksum]
    s.checksum = Counter(checks).most_common(1)[0][0] if checks else None
    return s


def problems(runs: list[Run], summaries: list[Summary]) -> list[dict]:
    """Every failed run and every checksum disagreement, with the command to reproduce."""
    out: list[dict] = []
    seen: set[tuple[str, str, str]] = set()
    for r in runs:
        key = (r.scenario, r.allocator, r.status)
        if not r.ok and key not in seen:
            seen.add(key)
            out.append({"scenario": r.scenario, "allocator": r.allocator, "problem": r.status,
                        "command": r.command, "stderr": r.stderr_tail})
    for s in summaries:
        if s.status == "checksum mismatch":
            bad = next((r for r in runs if r.scenario == s.scenario and
                        r.allocator == s.allocator and r.ok), None)
            out.append({"scenario": s.scenario, "allocator": s.allocator,
                        "problem": "; ".join(s.notes), "command": bad.command if bad else "",
                        "stderr": bad.stderr_tail if bad else ""})
    return out
