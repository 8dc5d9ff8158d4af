"""PNG charts of a results dict: throughput and peak RSS per scenario and
allocator (one panel per scenario, min-max as error bars), and callgrind counts
(one panel per pair size)."""
from __future__ import annotations

import math
from pathlib import Path

from hakmem.bench.callgrind import size_label
from hakmem.bench.report import cg_size

PALETTE = {"glibc": "#7f7f7f", "mimalloc": "#1f77b4", "jemalloc": "#2ca02c",
           "tcmalloc": "#9467bd"}
HAKMEM_COLORS = ["#d62728", "#ff7f0e", "#e377c2", "#8c564b", "#bcbd22", "#17becf"]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def colors(names: list[str]) -> dict[str, str]:
    out, k = {}, 0
    for n in names:
        if n in PALETTE:
            out[n] = PALETTE[n]
        else:
            out[n] = HAKMEM_COLORS[k % len(HAKMEM_COLORS)]
            k += 1
    return out


def _unit(peak: float, unit: str) -> tuple[float, str]:
    """A per-panel scale so every panel reads in plain numbers (M ops/s, k ops/s...)."""
    if unit != "ops/s":
        return 1.0, unit
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if peak >= factor:
            return factor, f"{prefix} {unit}"
    return 1.0, unit


def _grid(results: dict, path: Path, value: str, lo: str, hi: str, scale: float,
          ylabel: str, title: str) -> Path | None:
    names = [a["name"] for a in results["allocators"] if a["status"] == "ok"]
    scen = [s["name"] for s in results["scenarios"]]
    if not names or not scen:
        return None
    by = {(s["scenario"], s["allocator"]): s for s in results["summary"]}
    plt = _pyplot()
    cols = min(3, len(scen))
    rows = math.ceil(len(scen) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    cmap = colors(names)
    for i, sc in enumerate(scen):
        ax = axes[i // cols][i % cols]
        vals, errs_lo, errs_hi, labels = [], [], [], []
        peak = max([(by.get((sc, n)) or {}).get(value) or 0 for n in names] + [0])
        panel_scale, panel_label = _unit(peak, ylabel)
        scale_here = scale * panel_scale
        for n in names:
            s = by.get((sc, n)) or {}
            v = s.get(value)
            v = v / scale_here if v is not None else 0.0
            vals.append(v)
            errs_lo.append(max(0.0, v - (s.get(lo) or 0) / scale_here)
                           if s.get(lo) is not None else 0)
            errs_hi.append(max(0.0, (s.get(hi) or 0) / scale_here - v)
                           if s.get(hi) is not None else 0)
            labels.append("✗" if s.get("status") not in (None, "ok") else "")
        x = range(len(names))
        ax.bar(x, vals, color=[cmap[n] for n in names], yerr=[errs_lo, errs_hi],
               capsize=3, error_kw={"elinewidth": 0.8})
        for xi, lab in zip(x, labels):
            if lab:
                ax.text(xi, 0, lab, ha="center", va="bottom", color="red")
        ax.set_title(sc, fontsize=10)
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylabel(panel_label, fontsize=8)
    for j in range(len(scen), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def throughput_chart(results: dict, path: Path) -> Path | None:
    meta = results["meta"]
    return _grid(results, path, "ops_per_sec", "ops_per_sec_min", "ops_per_sec_max", 1.0,
                 "ops/s", f"Throughput, median of {meta['runs']} runs (bars: min–max); "
                 "higher is better")


def cpu_throughput_chart(results: dict, path: Path) -> Path | None:
    if not any(s.get("cpu_ops_per_sec") for s in results["summary"]):
        return None
    meta = results["meta"]
    return _grid(results, path, "cpu_ops_per_sec", "cpu_ops_per_sec_min",
                 "cpu_ops_per_sec_max", 1.0, "ops/s",
                 f"Throughput per CPU-second, median of {meta['runs']} runs (bars: min–max); "
                 "higher is better")


def rss_chart(results: dict, path: Path) -> Path | None:
    return _grid(results, path, "maxrss_kib", "maxrss_kib_min", "maxrss_kib_max", 1024.0,
                 "MiB", "Peak RSS of the benchmark process (median, min–max); lower is better")


def callgrind_chart(results: dict, path: Path) -> Path | None:
    """One panel per pair size, each on its own scale (a 2 MiB pair costs up to
    fifty times a 32-byte one), allocators in the same order and colours."""
    cg = [c for c in results.get("callgrind") or [] if c["status"] == "ok"
          and c.get("per_pair") is not None]
    if not cg:
        return None
    sizes = list(dict.fromkeys(cg_size(c) for c in cg))
    names = list(dict.fromkeys(c["allocator"] for c in cg))
    cmap = colors(names)
    plt = _pyplot()
    width = 1.0 * len(names) + 1.8
    fig, axes = plt.subplots(1, len(sizes), figsize=(width * len(sizes), 3.4), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        here = {c["allocator"]: c for c in cg if cg_size(c) == size}
        shown = [n for n in names if n in here]
        vals = [here[n]["net"] if here[n].get("net") is not None else here[n]["per_pair"]
                for n in shown]
        bars = ax.bar(range(len(shown)), vals, color=[cmap[n] for n in shown])
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.0f}", ha="center",
                    va="bottom", fontsize=8)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels(shown, rotation=20, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylabel("instructions", fontsize=8)
        ax.set_ylim(0, max(vals + [1]) * 1.15)      # room for the value labels
        ax.set_title(f"malloc({size_label(size)}) + free", fontsize=10)
    fig.suptitle("Allocator instructions per pair (callgrind, net of the loop); "
                 "lower is better", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render_all(results: dict, out: Path) -> list[Path]:
    made = [throughput_chart(results, out / "throughput.png"),
            cpu_throughput_chart(results, out / "throughput_cpu.png"),
            rss_chart(results, out / "rss.png"),
            callgrind_chart(results, out / "callgrind.png")]
    return [p for p in made if p is not None]
