"""Reading hakmem allocation traces (HAKMEM_TRACE_ALLOCATIONS; format in src/trace.h) and summarizing
them: size histogram, lifetimes, per-thread traffic."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"HAKTRC01"
HEADER_SIZE = 64
OPS = {1: "malloc", 2: "free", 3: "calloc", 4: "realloc", 5: "memalign"}
REALLOC_OLD = 6      # the old block of a realloc, recorded at its entry (its REALLOC record follows)
ALLOC_OPS = (1, 3, 4, 5)
RECORD = np.dtype([("time_ns", "<u8"), ("ptr", "<u8"), ("size", "<u8"), ("aux", "<u8"),
                   ("tid", "<u4"), ("op", "u1"), ("flags", "u1"), ("reserved", "<u2")])
assert RECORD.itemsize == 40


class TraceError(Exception):
    pass


@dataclass
class Trace:
    path: Path
    version: int
    pid: int
    start_ns: int
    mode: str
    variant: str
    records: np.ndarray          # RECORD, sorted by time (stable: each thread keeps its order)
    trailing_bytes: int = 0


@dataclass
class Header:
    version: int
    pid: int
    start_ns: int
    mode: str          # the mode and variant of the library that recorded the trace
    variant: str


def parse_header(path: Path, data: bytes) -> Header:
    if len(data) < HEADER_SIZE or data[:8] != MAGIC:
        raise TraceError(f"{path}: not a hakmem trace (no {MAGIC.decode()} header)")
    version, rec_size, pid, start = struct.unpack_from("<IIQQ", data, 8)
    if rec_size != RECORD.itemsize:
        raise TraceError(f"{path}: record size {rec_size}, this reader knows {RECORD.itemsize}")
    mode = data[32:48].split(b"\0")[0].decode(errors="replace")
    variant = data[48:64].split(b"\0")[0].decode(errors="replace")
    return Header(version, pid, start, mode, variant)


def read_header(path: str | Path) -> Header:
    """The header alone: cheap on a trace of any size."""
    path = Path(path)
    with path.open("rb") as f:
        return parse_header(path, f.read(HEADER_SIZE))


def read(path: str | Path) -> Trace:
    path = Path(path)
    data = path.read_bytes()
    h = parse_header(path, data)
    body = len(data) - HEADER_SIZE
    n = body // RECORD.itemsize
    recs = np.frombuffer(data, dtype=RECORD, count=n, offset=HEADER_SIZE)
    recs = recs[np.argsort(recs["time_ns"], kind="stable")]
    return Trace(path, h.version, h.pid, h.start_ns, h.mode, h.variant, recs, body - n * RECORD.itemsize)


# Histogram buckets: powers of two up to 1 GiB.
def _bucket_label(lo: int, hi: int) -> str:
    def h(v: int) -> str:
        for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
            if v >= div and v % div == 0:
                return f"{v // div}{unit}"
        return str(v)
    return f"{h(lo)}-{h(hi)}"


@dataclass
class Summary:
    path: str
    mode: str
    pid: int
    records: int
    duration_s: float
    ops: dict[str, int]
    failed: int
    threads: list[dict]
    sizes: list[dict]                         # {"bucket", "lo", "hi", "count", "bytes"}
    lifetimes: dict = field(default_factory=dict)
    peak_live_bytes: int = 0
    peak_live_blocks: int = 0
    live_at_end: int = 0
    unmatched_frees: int = 0

    def to_dict(self) -> dict:
        from dataclasses import asdict
        return asdict(self)


def _percentiles(values: list[int]) -> dict:
    if not values:
        return {"count": 0}
    a = np.asarray(values, dtype=np.float64)
    q = np.percentile(a, [50, 90, 99])
    return {"count": len(values), "p50_us": q[0] / 1e3, "p90_us": q[1] / 1e3, "p99_us": q[2] / 1e3,
            "max_us": float(a.max()) / 1e3, "mean_us": float(a.mean()) / 1e3}


def summarize(tr: Trace) -> Summary:
    r = tr.records
    ops = {name: int((r["op"] == code).sum()) for code, name in OPS.items()}
    failed = int(((r["flags"] & 1) == 1).sum())
    alloc_mask = np.isin(r["op"], ALLOC_OPS) & (r["ptr"] != 0)
    sizes = r["size"][alloc_mask]
    hist = []
    if len(sizes):
        edges = [0] + [1 << k for k in range(4, 31)]
        for lo, hi in zip(edges, edges[1:]):
            sel = (sizes > lo) & (sizes <= hi) if lo else (sizes <= hi)
            c = int(sel.sum())
            if c:
                hist.append({"bucket": _bucket_label(lo + 1 if lo else 0, hi), "lo": lo, "hi": hi,
                             "count": c, "bytes": int(sizes[sel].sum())})
        big = sizes > (1 << 30)
        if big.any():
            hist.append({"bucket": ">1G", "lo": 1 << 30, "hi": None, "count": int(big.sum()),
                         "bytes": int(sizes[big].sum())})
    # Lifetimes and live bytes: walk the merged order once.
    live: dict[int, tuple[int, int]] = {}     # ptr -> (time, size)
    lifetimes: list[int] = []
    cur = peak = peak_blocks = 0
    unmatched = 0
    times, ptrs, szs, opsa, aux = (r["time_ns"].tolist(), r["ptr"].tolist(), r["size"].tolist(),
                                   r["op"].tolist(), r["aux"].tolist())
    released: dict[int, int] = {}             # tid -> old address of its realloc in progress
    tids = r["tid"].tolist()
    for t, p, s, op, a, tid in zip(times, ptrs, szs, opsa, aux, tids):
        if op == REALLOC_OLD:
            released[tid] = p
        if op == 2 or op == 4 or op == REALLOC_OLD:
            old = p if op in (2, REALLOC_OLD) else a
            if op == 4 and old and released.pop(tid, None) == old:
                old = 0                       # already released by its REALLOC_OLD record
            if old:
                e = live.pop(old, None)
                if e is None:
                    unmatched += 1
                else:
                    lifetimes.append(t - e[0])
                    cur -= e[1]
            if op != 4:
                continue
        if p:
            prev = live.get(p)
            if prev is not None:
                cur -= prev[1]
            live[p] = (t, s)
            cur += s
            if cur > peak:
                peak = cur
            if len(live) > peak_blocks:
                peak_blocks = len(live)
    threads = []
    for tid in np.unique(r["tid"]):
        sel = r[r["tid"] == tid]
        am = np.isin(sel["op"], ALLOC_OPS) & (sel["ptr"] != 0)
        threads.append({"tid": int(tid), "ops": int(len(sel)), "allocs": int(am.sum()),
                        "frees": int((sel["op"] == 2).sum()), "bytes": int(sel["size"][am].sum()),
                        "first_s": float(sel["time_ns"][0]) / 1e9, "last_s": float(sel["time_ns"][-1]) / 1e9})
    threads.sort(key=lambda d: -d["ops"])
    dur = float(r["time_ns"][-1] - r["time_ns"][0]) / 1e9 if len(r) else 0.0
    return Summary(str(tr.path), tr.mode, tr.pid, int(len(r)), dur, ops, failed, threads, hist,
                   _percentiles(lifetimes), peak, peak_blocks, len(live), unmatched)


def format_summary(s: Summary, top_threads: int = 16) -> str:
    out = [f"trace {s.path}: {s.records} records, pid {s.pid}, mode {s.mode}, {s.duration_s:.3f} s"]
    out.append("  operations: " + ", ".join(f"{k} {v}" for k, v in s.ops.items() if v)
               + (f"; {s.failed} failed" if s.failed else ""))
    out.append(f"  peak live: {s.peak_live_bytes} bytes in {s.peak_live_blocks} blocks; "
               f"{s.live_at_end} blocks never freed; {s.unmatched_frees} frees of unknown blocks")
    lt = s.lifetimes
    if lt.get("count"):
        out.append(f"  lifetimes ({lt['count']} freed blocks): p50 {lt['p50_us']:.1f} us, "
                   f"p90 {lt['p90_us']:.1f} us, p99 {lt['p99_us']:.1f} us, max {lt['max_us']:.1f} us")
    out.append("  size histogram:")
    total = sum(h["count"] for h in s.sizes) or 1
    out.append(f"    {'bytes':>14} {'count':>10} {'share':>7}  ")
    for h in s.sizes:
        share = h["count"] / total
        out.append(f"    {h['bucket']:>14} {h['count']:>10} {100 * share:6.1f}%  {'#' * max(1, round(40 * share))}")
    out.append(f"  threads ({len(s.threads)}):")
    out.append(f"    {'tid':>8} {'ops':>10} {'allocs':>10} {'frees':>10} {'bytes':>14}")
    for t in s.threads[:top_threads]:
        out.append(f"    {t['tid']:>8} {t['ops']:>10} {t['allocs']:>10} {t['frees']:>10} {t['bytes']:>14}")
    if len(s.threads) > top_threads:
        out.append(f"    ... {len(s.threads) - top_threads} more")
    return "\n".join(out)
