"""Tables and a PNG chart of a hakmem stats JSON file (HAKMEM_STATS_FILE / hak_stats_json())."""
from __future__ import annotations

import json
from pathlib import Path


def load(path: str | Path) -> dict:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or "totals" not in data:
        raise ValueError(f"{path}: not a hakmem stats file (no 'totals')")
    return data


def human(v: float | int | None) -> str:
    if v is None:
        return "-"
    v = float(v)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(v) < 1024 or unit == "GiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return str(v)


def _table(headers: list[str], rows: list[list], align: str | None = None) -> list[str]:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    align = align or ("<" + ">" * (len(headers) - 1))
    fmt = "  ".join(f"{{:{a}{w}}}" for a, w in zip(align, widths))
    out = ["  " + fmt.format(*headers), "  " + "  ".join("-" * w for w in widths)]
    out += ["  " + fmt.format(*r) for r in cells]
    return out


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def render(d: dict, verbose: bool = False) -> str:
    t = d["totals"]
    p = d.get("process", {})
    out = [f"hakmem stats: mode {d.get('mode')}, variant {d.get('variant')}"
           + ("" if d.get("stats_compiled", True) else " (per-class counters compiled out)")]
    out.append(f"  allocs {t.get('allocs', 0)}  frees {t.get('frees', 0)}  "
               f"in use {human(t.get('in_use_bytes'))} (peak seen {human(t.get('peak_in_use_bytes'))})  "
               f"mapped {human(t.get('mapped_bytes'))} (peak {human(t.get('peak_mapped_bytes'))})")
    out.append(f"  process: RSS {human(p.get('rss_bytes'))} (peak {human(p.get('peak_rss_bytes'))}), "
               f"faults {p.get('minflt', 0)} minor / {p.get('majflt', 0)} major")
    if d.get("tiers"):
        out.append("")
        out.append("per tier:")
        rows = []
        large = d.get("large", {})
        for tr in d["tiers"]:
            hits, miss = tr.get("cache_hits", 0), tr.get("cache_misses", 0)
            if tr["tier"] == "large":
                hr = large.get("bigcache_hit_rate")
                hits, miss = large.get("bigcache_hits", "-"), large.get("bigcache_misses", "-")
            else:
                hr = hits / tr["allocs"] if tr.get("allocs") else None
            rows.append([tr["tier"], tr.get("allocs", 0), tr.get("frees", 0), hits, miss, pct(hr),
                         human(tr.get("in_use_bytes")), human(tr.get("peak_bytes"))])
        out += _table(["tier", "allocs", "frees", "hits", "misses", "hit rate", "in use", "peak"], rows)
    if d.get("classes"):
        out.append("")
        out.append("per size class:")
        rows = [[c["class"], c["size"], c["tier"], c.get("allocs", 0), c.get("frees", 0), c.get("misses", "-"),
                 pct(c.get("hit_rate")), human(c.get("in_use_bytes")), human(c.get("peak_bytes"))]
                + ([c.get("flushes", "-")] if verbose else []) for c in d["classes"]]
        out += _table(["class", "size", "tier", "allocs", "frees", "misses", "hit rate", "in use", "peak"]
                      + (["flushes"] if verbose else []), rows, "<><>>>>>>>"[: 9 + verbose] if verbose else "<><>>>>>>")
    h = d.get("heaps")
    if h:
        out.append("")
        out.append(f"heaps {h.get('count')}: refills {h.get('refills')} ({h.get('refill_blocks')} blocks), "
                   f"flushes {h.get('flushes')} ({h.get('flush_blocks')} blocks), remote frees "
                   f"{h.get('remote_frees')} (drained {h.get('remote_drained')}), slabs live "
                   f"{h.get('slabs_live', '-')}, SuperSlabs cached {h.get('superslabs_cached')}")
    s = d.get("syscalls")
    if s:
        out.append(f"syscalls: mmap {s.get('mmap')} ({human(s.get('mmap_bytes'))}), munmap {s.get('munmap')} "
                   f"({human(s.get('munmap_bytes'))}), madvise {s.get('madvise')} "
                   f"({human(s.get('madvise_bytes'))}), mremap {s.get('mremap')}")
    if verbose and d.get("memory"):
        out.append("memory: " + json.dumps(d["memory"]))
    if d.get("learning"):
        out.append("learning: " + json.dumps(d["learning"]) if verbose else
                   "learning: " + ", ".join(sorted(d["learning"])[:8]))
    iv = d.get("intervals") or []
    if iv:
        out.append("")
        out.append(f"intervals ({len(iv)} samples, every {d.get('interval_sec')} s):")
        rows = [[f"{x['t']:.1f}", x.get("allocs", 0), x.get("frees", 0), human(x.get("in_use_bytes")),
                 human(x.get("rss_bytes"))] for x in iv[-20:]]
        out += _table(["t (s)", "allocs", "frees", "in use", "RSS"], rows)
        if len(iv) > 20:
            out.append(f"  (last 20 of {len(iv)})")
    return "\n".join(out)


def chart(d: dict, path: str | Path, top: int = 16) -> Path:
    """Per-class traffic, hit rates, and RSS over the intervals, in one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    classes = sorted(d.get("classes", []), key=lambda c: -c.get("allocs", 0))[:top]
    classes.sort(key=lambda c: c["class"])
    iv = d.get("intervals") or []
    panels = 2 + (1 if iv else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(9, 3.2 * panels))
    ax = axes[0]
    labels = [str(c["size"]) for c in classes]
    x = range(len(classes))
    ax.bar([i - 0.2 for i in x], [c.get("allocs", 0) for c in classes], width=0.4, label="allocs")
    ax.bar([i + 0.2 for i in x], [c.get("frees", 0) for c in classes], width=0.4, label="frees")
    ax.set_xticks(list(x), labels, rotation=45, fontsize=8)
    ax.set_title(f"per-class traffic (top {len(classes)} classes by allocations; block size in bytes)")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.bar(list(x), [100 * (c.get("hit_rate") or 0) for c in classes], color="#2ca02c")
    ax.set_xticks(list(x), labels, rotation=45, fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("cache hit %")
    large = d.get("large", {})
    title = "thread-cache hit rate per class"
    if large.get("bigcache_hit_rate") is not None:
        title += f"; BigCache hit rate {100 * large['bigcache_hit_rate']:.1f}%"
    ax.set_title(title)
    if iv:
        ax = axes[2]
        t = [s["t"] for s in iv]
        ax.plot(t, [s.get("rss_bytes", 0) / 2**20 for s in iv], label="RSS", marker=".")
        ax.plot(t, [s.get("in_use_bytes", 0) / 2**20 for s in iv], label="in use", marker=".")
        ax.set_xlabel("seconds")
        ax.set_ylabel("MiB")
        ax2 = ax.twinx()
        ax2.plot(t, [s.get("allocs", 0) for s in iv], color="#9467bd", alpha=0.5, label="allocs/interval")
        ax2.set_ylabel("allocs per interval")
        ax.legend(loc="upper left", fontsize=8)
        ax.set_title("over the intervals")
    fig.suptitle(f"hakmem {d.get('mode')} ({d.get('variant')})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
