"""JSON, CSV and markdown renderings of a results dict (see harness.run)."""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

from hakmem.bench.callgrind import SMALL, size_label

RUN_FIELDS = ["scenario", "allocator", "kind", "rep", "status", "ops", "seconds",
              "ops_per_sec", "ns_per_op", "cpu_seconds", "cpu_ops_per_sec", "checksum", "wall_s", "maxrss_kib", "rusage_maxrss_kib", "minflt",
              "majflt", "utime_s", "stime_s", "nvcsw", "nivcsw", "syscalls",
              "kernel_syscalls", "command"]
SUMMARY_FIELDS = ["scenario", "allocator", "status", "runs", "failed", "ops_per_sec",
                  "ops_per_sec_min", "ops_per_sec_max", "cv_pct", "ratio", "cpu_ops_per_sec",
                  "cpu_ops_per_sec_min", "cpu_ops_per_sec_max", "cpu_ratio", "ns_per_op",
                  "maxrss_kib", "maxrss_kib_min", "maxrss_kib_max", "rss_ratio", "minflt",
                  "majflt", "syscalls", "kernel_syscalls", "checksum"]
CALLGRIND_FIELDS = ["allocator", "size", "status", "n1", "n2", "ir1", "ir2", "per_pair",
                    "loop_overhead", "net", "command"]


def write_json(results: dict, path: Path) -> Path:
    path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    return path


def _write_csv(rows: list[dict], fields: list[str], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: _csv_value(row.get(k)) for k in fields})
    return path


def _csv_value(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def write_runs_csv(results: dict, path: Path) -> Path:
    return _write_csv(results["runs"], RUN_FIELDS, path)


def write_summary_csv(results: dict, path: Path) -> Path:
    return _write_csv(results["summary"], SUMMARY_FIELDS, path)


def write_callgrind_csv(results: dict, path: Path) -> Path:
    rows = [{**c, "size": cg_size(c)} for c in results["callgrind"]]
    return _write_csv(rows, CALLGRIND_FIELDS, path)


# ---- markdown -----------------------------------------------------------------

def si(v: float | None, unit: str = "") -> str:
    """4.25e7 -> '42.5 M' (three significant digits)."""
    if v is None:
        return "–"
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{_sig3(v / factor)} {prefix}{unit}".rstrip()
    return f"{_sig3(v)} {unit}".rstrip()


def _sig3(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def mib(kib: float | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f}"


def ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}×"


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["l"] + ["r"] * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _allocator_names(results: dict) -> list[str]:
    return [a["name"] for a in results["allocators"]]


def overview_table(results: dict, key: str = "ops_per_sec", ratio_key: str = "ratio",
                   title: str = "scenario (ops/s)", fmt=si) -> str:
    """Scenarios down, allocators across: a median (throughput unless `key` names another) and
    its ratio vs baseline."""
    names = _allocator_names(results)
    by = {(s["scenario"], s["allocator"]): s for s in results["summary"]}
    rows = []
    for scen in results["scenarios"]:
        row = [f"`{scen['name']}`"]
        for n in names:
            s = by.get((scen["name"], n))
            if s is None:
                row.append("–")
            elif s["status"] != "ok" or s.get(key) is None:
                row.append(f"**{s['status']}**" if s["status"] != "ok" else "–")
            else:
                cell = fmt(s[key])
                if s.get(ratio_key) is not None and n != results["meta"]["baseline"]:
                    cell += f" ({ratio(s[ratio_key])})"
                row.append(cell)
        rows.append(row)
    rows.append(["geometric mean of the ratios"] + [ratio(geomean_ratio(results, n, ratio_key)) for n in names])
    return _table([title] + names, rows)


def geomean_ratio(results: dict, allocator: str, ratio_key: str = "ratio") -> float | None:
    """The geometric mean of an allocator's ratios against the baseline over the scenarios both ran
    (None for the baseline itself, or when there are none)."""
    if allocator == results["meta"]["baseline"]:
        return None
    logs = [math.log(s[ratio_key]) for s in results["summary"]
            if s["allocator"] == allocator and s["status"] == "ok" and s.get(ratio_key)]
    return math.exp(sum(logs) / len(logs)) if logs else None


def detail_table(results: dict) -> str:
    base = results["meta"]["baseline"]
    rows = []
    for s in results["summary"]:
        if s["status"] in ("not installed", "build failed", "no malloc exported"):
            rows.append([f"`{s['scenario']}`", s["allocator"], f"**{s['status']}**"]
                        + ["–"] * 9)
            continue
        lo, hi = s.get("ops_per_sec_min"), s.get("ops_per_sec_max")
        cv = s.get("cv_pct")
        rss_lo, rss_hi = s.get("maxrss_kib_min"), s.get("maxrss_kib_max")
        sysc = s.get("syscalls")
        ksys = s.get("kernel_syscalls")
        rows.append([
            f"`{s['scenario']}`",
            s["allocator"] + (" (baseline)" if s["allocator"] == base else ""),
            si(s.get("ops_per_sec")) if s["status"] == "ok" else f"**{s['status']}**",
            f"{si(lo)} – {si(hi)}" if lo is not None else "–",
            f"{cv:.1f}%" if cv is not None else "–",
            ratio(s.get("ratio")),
            si(s.get("cpu_ops_per_sec")) + (f" ({ratio(s['cpu_ratio'])})"
                                             if s.get("cpu_ratio") is not None else ""),
            mib(s.get("maxrss_kib")) + (f" ({mib(rss_lo)}–{mib(rss_hi)})"
                                         if rss_lo is not None and rss_lo != rss_hi else ""),
            ratio(s.get("rss_ratio")),
            si(s.get("minflt")),
            "–" if ksys is None else str(ksys),
            "–" if sysc is None else str(sysc),
        ])
    return _table(["scenario", "allocator", "median ops/s", "min – max", "CV",
                   f"× {base}", "ops per CPU-s", "peak RSS MiB", "× RSS", "minor faults",
                   "mem syscalls (strace)", "syscalls (hakmem stats)"], rows,
                  ["l", "l"] + ["r"] * 10)


def cg_size(c: dict) -> int:
    return c.get("size") or SMALL     # results.json from before the 2 MiB pair


def callgrind_sizes(results: dict) -> list[int]:
    """The pair sizes counted, in the order they were measured."""
    return list(dict.fromkeys(cg_size(c) for c in results.get("callgrind") or []))


def callgrind_table(results: dict, size: int = SMALL) -> str:
    cg = [c for c in results.get("callgrind") or [] if cg_size(c) == size]
    if not cg:
        return ""
    base = results["meta"]["baseline"]
    base_net = next((c["net"] for c in cg if c["allocator"] == base and c["net"]), None)
    rows = []
    for c in cg:
        if c["status"] != "ok":
            rows.append([c["allocator"], f"**{c['status']}**", "–", "–"])
            continue
        rel = ratio(c["net"] / base_net) if base_net and c["net"] else "–"
        rows.append([c["allocator"], f"{c['per_pair']:.1f}",
                     f"{c['net']:.1f}" if c["net"] is not None else "–", rel])
    overhead = next((c["loop_overhead"] for c in cg if c.get("loop_overhead")), None)
    note = (f"\n\nLoop overhead (the same loop calling two empty functions): "
            f"{overhead:.1f} instructions per iteration, subtracted in *net*; "
            f"N = {cg[0]['n1']} and {cg[0]['n2']} pairs.") if overhead else ""
    return _table(["allocator", "instructions per pair (total)",
                   "net (allocator only)", f"× {base}"], rows) + note


def _cg_title(size: int) -> str:
    return f"Instructions per malloc({size_label(size)})+free pair (callgrind)"


def scenarios_table(results: dict) -> str:
    rows = [[f"`{s['name']}`", s["what"], s["unit"],
             f"`out/bench/{s['program']} {' '.join(s['args'])}`"]
            for s in results["scenarios"]]
    return _table(["scenario", "what it does", "one op", "program and arguments"], rows,
                  ["l", "l", "l", "l"])


def machine_text(results: dict) -> str:
    m = results["meta"]["machine"]
    v = m.get("versions", {})
    lines = [
        f"- date: {m.get('date')}; commit `{m.get('commit')}`",
        f"- CPU: {m.get('cpu')}, {m.get('nproc')} online CPUs; memory {m.get('memory_gib')} GiB",
        f"- OS: {m.get('os')}, kernel {m.get('kernel')}; THP `{m.get('thp')}`",
        f"- glibc (libc6) {v.get('glibc')}; libmimalloc2.0 {v.get('mimalloc')}; "
        f"libjemalloc2 {v.get('jemalloc')}; libtcmalloc-minimal4 {v.get('tcmalloc')}",
        f"- benchmark programs built with {m.get('compiler')} `-O2`",
    ]
    return "\n".join(lines)


def problems_text(results: dict) -> str:
    probs = results.get("problems") or []
    if not probs:
        return "No run crashed, timed out or disagreed on its checksum."
    lines = []
    for p in probs:
        lines.append(f"- `{p['scenario']}` under **{p['allocator']}**: {p['problem']}  \n"
                     f"  reproduce: `{p['command']}`"
                     + (f"  \n  stderr: `{p['stderr'].splitlines()[-1]}`" if p.get("stderr") else ""))
    return "\n".join(lines)


def markdown(results: dict, image_dir: Path | None = None, md_dir: Path | None = None) -> str:
    """The whole report as markdown (written to table.md, pasted into docs)."""
    meta = results["meta"]
    unusable = [a for a in results["allocators"] if a["status"] != "ok"]
    parts = [
        f"Command: `{meta['command']}`  ",
        f"{meta['runs']} measured runs per scenario and allocator after {meta['warmup']} "
        f"warm-up, alternating between allocators; medians, min – max, ratios against "
        f"**{meta['baseline']}** (higher throughput is better). Wall time {meta['duration_s']} s."
        + (" **Interrupted: partial results.**" if meta.get("interrupted") else ""),
        "",
        machine_text(results),
        "",
    ]
    if unusable:
        parts += ["Not measured: " + "; ".join(
            f"**{a['name']}** — {a['status']}" + (f" ({a['detail']})" if a["detail"] else "")
            for a in unusable), ""]
    parts += ["### Throughput", "",
              "Median wall-clock throughput of the measured loop (ratio against "
              f"{meta['baseline']}):", "", overview_table(results), ""]
    if any(s.get("cpu_ops_per_sec") for s in results["summary"]):
        parts += ["Per CPU-second (ops divided by the process's CPU time over the same "
                  "loop; not inflated by waiting for a CPU on a busy machine; for the "
                  "two-thread scenarios it adds both threads' time, including the "
                  "consumer's spinning in `prodcons`):", "",
                  overview_table(results, "cpu_ops_per_sec", "cpu_ratio",
                                 "scenario (ops per CPU-s)"), ""]
    if any(s.get("maxrss_kib") for s in results["summary"]):
        parts += ["Peak resident set size of the whole run (median of the runs' maxrss; ratio against "
                  f"{meta['baseline']}, lower is better):", "",
                  overview_table(results, "maxrss_kib", "rss_ratio", "scenario (peak RSS, MiB)", mib), ""]
    if image_dir is not None:
        for name, title in (("throughput.png", "throughput"),
                            ("throughput_cpu.png", "throughput per CPU-second"),
                            ("rss.png", "peak RSS")):
            img = image_dir / name
            if img.exists():
                rel = os.path.relpath(img, md_dir) if md_dir else str(img)
                parts += [f"![{title}]({rel})", ""]
    if results.get("callgrind"):
        for size in callgrind_sizes(results):
            parts += [f"### {_cg_title(size)}", "", callgrind_table(results, size), ""]
        img = image_dir / "callgrind.png" if image_dir else None
        if img is not None and img.exists():
            rel = os.path.relpath(img, md_dir) if md_dir else str(img)
            parts += [f"![callgrind]({rel})", ""]
    parts += ["### Details", "", detail_table(results), "",
              "### Problems", "", problems_text(results), "",
              "### Scenarios", "", scenarios_table(results), ""]
    return "\n".join(parts)


# ---- the report document --------------------------------------------------------

def section_name(results: dict) -> str:
    return "matrix" if results["meta"].get("matrix") else "main"


def update_document(doc: Path, results: dict, image_dir: Path | None) -> Path:
    """Replace the generated part of a report document (docs/BENCHMARKS.md) between
    `<!-- BEGIN bench:NAME -->` and `<!-- END bench:NAME -->`, NAME being `main` or
    `matrix`; the hand-written text around it is kept. Appended when absent."""
    name = section_name(results)
    begin, end = f"<!-- BEGIN bench:{name} -->", f"<!-- END bench:{name} -->"
    body = markdown(results, image_dir=image_dir, md_dir=doc.parent)
    # The document has its own headings; demote ours below its level-2 sections.
    body = "\n".join("#" + line if line.startswith("### ") else line
                     for line in body.splitlines())
    try:
        shown = doc.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = doc
    block = (f"{begin}\n<!-- generated by `hakmem bench --doc {shown}`; "
             f"edits here are overwritten -->\n\n{body.rstrip()}\n\n{end}")
    text = doc.read_text() if doc.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return doc
