"""The benchmark harness on a tiny configuration: programs build and print their
RESULT line, the harness runs, parses, aggregates and renders. No timing is
asserted anywhere (speed belongs to the benchmark report, not to tests)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

from hakmem.bench import allocators, callgrind, harness, report, runner, stats, suite  # noqa: E402
from hakmem.bench.progress import Progress  # noqa: E402
from hakmem.bench.runner import Run  # noqa: E402

# Arguments small enough that every program finishes in milliseconds.
TINY = {
    "random_mixed": ["2000", "256", "7", "64"],
    "tiny_hot": ["2000", "64", "8"],
    "size_batches": ["2000", "256", "100"],
    "larson": ["2", "16", "256", "2", "500", "64", "7"],
    "mid_large": ["500", "8192", "16384", "7", "32"],
    "large": ["50", "65536", "262144", "7", "8", "10000"],
    "vm": ["5", "2097152", "10000"],
    "cold_churn": ["2", "256k", "1024", "7"],
    "json_parse": ["3", "2048", "7", "2"],
    "prodcons": ["5000", "1", "128", "7"],
    "phase_shift": ["2", "4096", "2", "1", "64", "7"],
    "thread_churn": ["2", "3", "40", "7"],
    "handoff": ["20000", "2", "2", "512", "64", "64", "4", "7"],
    "handoff_mixed": ["20000", "2", "2", "512", "8", "2048", "4", "7"],
    **{f"larson_t{n}": [str(n), "16", "256", "2", "200", "64", "7"] for n in (8, 16, 32)},
    **{f"prodcons_t{n}": ["5000", str(n // 2), "128", "7"] for n in (8, 16, 32)},
}

needs_cc = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None,
                              reason="no C compiler")


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench-bin")


def test_tiny_args_cover_every_scenario():
    assert set(TINY) == set(suite.SCENARIOS)


@needs_cc
@pytest.mark.parametrize("name", sorted(suite.SCENARIOS))
def test_program_prints_one_result_line(name, bench_dir):
    scen = suite.SCENARIOS[name]
    binary = suite.build_program(scen.program, bench_dir)
    proc = subprocess.run([str(binary), *TINY[name]], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert len(lines) == 1
    res = runner.parse_result_line(proc.stdout)
    assert res["bench"] == scen.program
    assert res["ops"] > 0 and res["ops_per_sec"] > 0
    assert len(res["checksum"]) == 16 and res["peak_rss_kib"] > 0
    assert res["cpu_seconds"] >= 0
    # deterministic: the same arguments give the same checksum
    again = runner.parse_result_line(
        subprocess.run([str(binary), *TINY[name]], capture_output=True, text=True,
                       timeout=60).stdout)
    assert again["checksum"] == res["checksum"]


@needs_cc
@pytest.mark.parametrize("args,size,null", [([], 32, 0), (["2097152"], 2097152, 0),
                                            (["2m"], 2097152, 0), (["null"], 32, 1)])
def test_cg_pair_size_argument(args, size, null, bench_dir):
    binary = suite.build_program(suite.CALLGRIND_PROGRAM, bench_dir)
    proc = subprocess.run([str(binary), "50", *args], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    res = runner.parse_result_line(proc.stdout)
    assert (res["bench"], res["ops"], res["size"], res["null"]) == ("cg_pair", 50, size, null)


@needs_cc
def test_build_is_incremental(bench_dir):
    first = suite.build_program("tiny_hot", bench_dir)
    mtime = first.stat().st_mtime_ns
    assert suite.build_program("tiny_hot", bench_dir).stat().st_mtime_ns == mtime


def test_parse_result_line_types_and_last_line_wins():
    text = ("noise\nRESULT bench=x ops=10 seconds=0.5 checksum=00ff\n"
            "RESULT bench=y ops=20 seconds=0.25 ops_per_sec=8.0e1 checksum=0001 note=abc\n")
    res = runner.parse_result_line(text)
    assert res == {"bench": "y", "ops": 20, "seconds": 0.25, "ops_per_sec": 80.0,
                   "checksum": "0001", "note": "abc"}
    assert runner.parse_result_line("no result here") is None


def test_stats_file_syscalls_tolerant(tmp_path):
    f = tmp_path / "s.json"
    assert runner.read_stats_syscalls(f) == (None, None)            # absent
    f.write_text("{not json")
    assert runner.read_stats_syscalls(f) == (None, None)            # garbage
    f.write_text(json.dumps({"tiny": {"alloc": 5}}))
    assert runner.read_stats_syscalls(f) == (None, None)            # no syscalls key
    f.write_text(json.dumps({"syscalls": 12}))
    assert runner.read_stats_syscalls(f) == (12, None)
    f.write_text(json.dumps({"syscalls": {"mmap": 3, "munmap": 2, "madvise": {"dontneed": 4}}}))
    total, detail = runner.read_stats_syscalls(f)
    assert total == 9 and detail["madvise.dontneed"] == 4
    f.write_text(json.dumps({"syscalls": {"mmap": 3, "mmap_bytes": 4096, "munmap": 1}}))
    assert runner.read_stats_syscalls(f)[0] == 4                    # volumes not summed
    f.write_text(json.dumps({"syscalls": {"mmap": 3, "total": 7}}))
    assert runner.read_stats_syscalls(f)[0] == 7


def test_parse_strace_counts():
    text = ("    calls syscall\n--------- ----------------\n        9 mmap\n"
            "        2 munmap\n--------- ----------------\n       11 total\n")
    assert runner.parse_strace_counts(text) == (11, {"mmap": 9, "munmap": 2})


def test_callgrind_total_parsing():
    assert callgrind.parse_total("events: Ir\nsummary: 1234\ntotals: 1234\n") == 1234
    assert callgrind.parse_total("events: Ir\n") is None


def test_callgrind_sizes_and_loop_counts():
    assert callgrind.SIZES == (32, 2 * 1024 * 1024)
    assert callgrind.loop_counts(32, quick=False) == callgrind.N_FULL
    assert callgrind.loop_counts(32, quick=True) == callgrind.N_QUICK
    assert callgrind.loop_counts(callgrind.LARGE, quick=False) == callgrind.N_LARGE_FULL
    assert callgrind.loop_counts(callgrind.LARGE, quick=True) == callgrind.N_LARGE_QUICK
    assert [callgrind.size_label(n) for n in (32, 2097152, 65536, 1000)] == \
        ["32", "2 MiB", "64 KiB", "1000"]
    # an allocator that cannot be used is reported at its size, with the command
    pc = callgrind.measure(Path("/nonexistent/cg_pair"),
                           allocators.Allocator("absent", None, allocators.NOT_INSTALLED),
                           (5, 10), 10.0, callgrind.LARGE)
    assert (pc.size, pc.status, pc.per_pair) == (callgrind.LARGE, allocators.NOT_INSTALLED, None)
    assert pc.command.endswith("cg_pair 10 2097152")


def test_resolve_allocators(tmp_path):
    glibc = allocators.resolve("glibc", build=False)
    assert glibc.usable and glibc.preload is None
    missing = allocators.resolve(f"ghost={tmp_path / 'nope.so'}", build=False)
    assert missing.status == allocators.NOT_INSTALLED and missing.name == "ghost"
    assert allocators.resolve("nosuchalloc", build=False).status == allocators.NOT_INSTALLED
    bad_mode = allocators.resolve("hakmem-nosuchmode", build=False)
    assert bad_mode.status == allocators.NOT_INSTALLED and "unknown mode" in bad_mode.detail
    for peer in ("mimalloc", "jemalloc", "tcmalloc"):
        a = allocators.resolve(peer, build=False)
        assert a.status in (allocators.OK, allocators.NOT_INSTALLED)
        if a.status == allocators.NOT_INSTALLED:
            assert "apt-get install" in a.detail


def _run(scen, alloc, rep, ops, checksum="aa", status="ok", rss=1024, kind="measure", n=100.0):
    return Run(scenario=scen, allocator=alloc, rep=rep, kind=kind, status=status,
               ops_per_sec=ops, ops=n if status == "ok" else None, checksum=checksum, maxrss_kib=rss, minflt=10, majflt=0,
               command=f"LD_PRELOAD={alloc}.so out/bench/{scen} 1")


def test_summarize_medians_ratios_and_problems():
    allocs = [allocators.Allocator("base"), allocators.Allocator("fast", "/x.so"),
              allocators.Allocator("broken", "/y.so"), allocators.Allocator("wrong", "/z.so"),
              allocators.Allocator("absent", None, allocators.NOT_INSTALLED, "not here")]
    runs = [_run("s", "base", i, v) for i, v in enumerate([100.0, 90.0, 110.0])]
    runs += [_run("s", "fast", i, v, rss=2048) for i, v in enumerate([200.0, 300.0, 180.0])]
    runs += [_run("s", "broken", 0, 50.0),
             _run("s", "broken", 1, None, checksum=None, status="crash (SIGSEGV)")]
    runs += [_run("s", "wrong", i, 100.0, checksum="bb") for i in range(3)]
    # a time-limited run of another length is not compared
    runs += [_run("s", "fast", 4, 150.0, checksum="cc", n=42.0)]
    runs += [_run("s", "fast", 3, None, kind="profile")]
    runs[-1].syscalls, runs[-1].kernel_syscalls = 5, 40
    summ = {s.allocator: s for s in stats.summarize(runs, ["s"], allocs, "base")}
    assert summ["base"].ops_per_sec == 100.0 and summ["base"].ratio == 1.0
    f = summ["fast"]
    assert (f.ops_per_sec, f.ops_per_sec_min, f.ops_per_sec_max) == (190.0, 150.0, 300.0)
    assert f.ratio == 1.9 and f.rss_ratio == 2.0 and f.runs == 4 and f.status == "ok"
    assert f.syscalls == 5 and f.kernel_syscalls == 40
    assert summ["broken"].status.startswith("crash") and summ["broken"].failed == 1
    assert summ["wrong"].status == "checksum mismatch"
    assert summ["absent"].status == allocators.NOT_INSTALLED
    probs = stats.problems(runs, list(summ.values()))
    kinds = {(p["allocator"], p["problem"].split(" ")[0]) for p in probs}
    assert ("broken", "crash") in kinds
    assert any(p["allocator"] == "wrong" and "expected aa" in p["problem"] for p in probs)
    assert all(p["command"] for p in probs)


def test_progress_bar_plain_text():
    buf = io.StringIO()
    bar = Progress(20, stream=buf)
    for i in range(20):
        bar.step(f"step {i}")
    lines = buf.getvalue().splitlines()
    assert 1 <= len(lines) <= 11
    assert lines[-1].startswith("[" + "#" * 30 + "] 20/20 100%")


@pytest.fixture(scope="module")
def crashing_lib(tmp_path_factory) -> Path:
    """A preloadable library whose malloc segfaults after a few thousand calls."""
    d = tmp_path_factory.mktemp("crashlib")
    src = d / "crash.c"
    src.write_text(
        "#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <stddef.h>\n"
        "static unsigned long n;\n"
        "void *malloc(size_t s) {\n"
        "  static void *(*real)(size_t);\n"
        "  if (!real) real = (void *(*)(size_t))dlsym(RTLD_NEXT, \"malloc\");\n"
        "  if (++n > 1000) *(volatile int *)0 = 1;\n"
        "  return real(s);\n}\n")
    lib = d / "libcrash.so"
    subprocess.run([suite.compiler(), "-shared", "-fPIC", "-O1", "-o", str(lib), str(src),
                    "-ldl"], check=True)
    return lib


class _CountingProgress(Progress):
    """Progress that remembers its total and how many steps were taken."""
    made: list["_CountingProgress"] = []

    def __init__(self, total, **kw):
        super().__init__(total, **kw)
        self.steps = 0
        _CountingProgress.made.append(self)

    def step(self, label=""):
        self.steps += 1
        super().step(label)


@needs_cc
def test_harness_end_to_end(tmp_path, bench_dir, crashing_lib, monkeypatch):
    _CountingProgress.made.clear()
    monkeypatch.setattr(harness, "Progress", _CountingProgress)
    out = tmp_path / "results"
    cfg = harness.Config(
        allocators=["glibc", f"crashy={crashing_lib}", f"ghost={tmp_path / 'none.so'}",
                    "libm=/lib/x86_64-linux-gnu/libm.so.6"],
        scenarios=["random_mixed", "json_parse"], runs=2, warmup=1, baseline="glibc",
        out=out, progress=False, bench_dir=bench_dir, timeout=60,
        scenario_args={k: TINY[k] for k in TINY}, callgrind=callgrind.available(),
        callgrind_ns=(200, 400), callgrind_large_ns=(20, 40), command="hakmem bench --test")
    res = harness.run(cfg)
    by = {(s["scenario"], s["allocator"]): s for s in res["summary"]}
    assert by[("random_mixed", "glibc")]["status"] == "ok"
    assert by[("random_mixed", "glibc")]["runs"] == 2
    assert by[("random_mixed", "glibc")]["ratio"] == 1.0
    assert by[("random_mixed", "ghost")]["status"] == allocators.NOT_INSTALLED
    if Path("/lib/x86_64-linux-gnu/libm.so.6").exists() and shutil.which("nm"):
        assert by[("json_parse", "libm")]["status"] == allocators.NOT_AN_ALLOCATOR
    assert by[("random_mixed", "crashy")]["status"].startswith("crash")
    crash = [p for p in res["problems"] if p["allocator"] == "crashy"]
    assert crash and "LD_PRELOAD=" in crash[0]["command"]
    # 2 scenarios x 2 usable allocators x (1 warm-up + 2 measured + 1 profile)
    assert len(res["runs"]) == 2 * 2 * 4
    for name in ("results.json", "runs.csv", "summary.csv", "table.md"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "results.json").read_text())["meta"]["command"] == \
        "hakmem bench --test"
    assert (out / "throughput.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "rss.png").exists()
    md = (out / "table.md").read_text()
    assert "not installed" in md and "`random_mixed`" in md and "crashy" in md
    assert "reproduce:" in md
    # every step announced is taken: runs, then callgrind's two null loops (one per
    # distinct loop count) and two sizes for each usable allocator
    bar, = _CountingProgress.made
    assert bar.steps == bar.total == len(res["runs"]) + (2 + 2 * 2 if cfg.callgrind else 0)
    if cfg.callgrind:
        cg = {(c["allocator"], c["size"]): c for c in res["callgrind"]}
        names = ["glibc", "crashy", "ghost", "libm"]
        assert set(cg) == {(n, s) for n in names for s in callgrind.SIZES}
        for size, ns in ((32, (200, 400)), (callgrind.LARGE, (20, 40))):
            c = cg[("glibc", size)]
            assert c["status"] == "ok" and c["per_pair"] > 0 and c["net"] is not None
            assert (c["n1"], c["n2"]) == ns and c["loop_overhead"] > 0
            assert cg[("ghost", size)]["status"] == allocators.NOT_INSTALLED
        # the large path does more work than the tiny fast path
        assert cg[("glibc", callgrind.LARGE)]["net"] > cg[("glibc", 32)]["net"]
        with open(out / "callgrind.csv") as f:
            rows = list(csv.DictReader(f))
        assert {(r["allocator"], int(r["size"])) for r in rows} == set(cg)
        assert "instructions per pair" in md
        assert "malloc(32)+free pair" in md and "malloc(2 MiB)+free pair" in md
        assert (out / "callgrind.png").read_bytes()[:4] == b"\x89PNG"


@needs_cc
def test_cli_runs_and_rerenders(tmp_path):
    from hakmem import cli
    out = tmp_path / "cli"
    rc = cli.main(["bench", "--allocators", "glibc", "--scenarios", "vm", "--quick",
                   "--runs", "1", "--no-progress", "--no-syscalls", "--no-charts",
                   "--out", str(out)])
    assert rc == 0
    assert (out / "results.json").exists() and not (out / "throughput.png").exists()
    (out / "table.md").unlink()
    assert cli.main(["bench", "--render", str(out), "--no-charts"]) == 0
    assert "`vm`" in (out / "table.md").read_text()


def test_cli_rejects_unknown_scenario(capsys):
    from hakmem import cli
    assert cli.main(["bench", "--scenarios", "nope", "--no-progress"]) == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_markdown_formatting_helpers():
    assert report.si(4.25e7) == "42.5 M"
    assert report.si(1234.0) == "1.23 k"
    assert report.si(None) == "–"
    assert report.ratio(1.234) == "1.23×"
    assert report.mib(2048) == "2.0"


def test_update_document_keeps_handwritten_text(tmp_path):
    results = {
        "meta": {"command": "hakmem bench", "runs": 1, "warmup": 0, "baseline": "glibc",
                 "duration_s": 1.0, "matrix": False,
                 "machine": {"versions": {}, "date": "d", "commit": "c"}},
        "allocators": [{"name": "glibc", "status": "ok", "detail": ""}],
        "scenarios": [{"name": "vm", "program": "vm", "args": ["1"], "unit": "u", "what": "w"}],
        "summary": [{"scenario": "vm", "allocator": "glibc", "status": "ok",
                     "ops_per_sec": 5.0e6, "ratio": 1.0}],
        "callgrind": [], "problems": [], "runs": [],
    }
    doc = tmp_path / "B.md"
    doc.write_text("# Title\n\nintro\n\n<!-- BEGIN bench:main -->\nold\n<!-- END bench:main -->\n"
                   "\n## Notes\nkept\n")
    report.update_document(doc, results, None)
    text = doc.read_text()
    assert "intro" in text and "## Notes\nkept" in text and "old" not in text
    assert "#### Throughput" in text and "5.00 M" in text
    results["meta"]["matrix"] = True
    report.update_document(doc, results, None)
    assert "<!-- BEGIN bench:matrix -->" in doc.read_text()


def _cg_results(callgrind_rows):
    return {
        "meta": {"command": "hakmem bench", "runs": 1, "warmup": 0, "baseline": "glibc",
                 "duration_s": 1.0, "matrix": False,
                 "machine": {"versions": {}, "date": "d", "commit": "c"}},
        "allocators": [{"name": n, "status": "ok", "detail": ""}
                       for n in ("hakmem-fast", "glibc")],
        "scenarios": [], "summary": [], "problems": [], "runs": [],
        "callgrind": callgrind_rows,
    }


def _pc(name, size, per_pair, ns=(1, 2)):
    return callgrind.PairCount(name, size=size, n1=ns[0], n2=ns[1], per_pair=per_pair,
                               loop_overhead=10.0, net=per_pair - 10.0).to_dict()


def test_report_has_a_table_per_pair_size(tmp_path):
    large = callgrind.LARGE
    res = _cg_results([_pc("hakmem-fast", 32, 49.0), _pc("glibc", 32, 136.0),
                       _pc("hakmem-fast", large, 280.0, (500, 1500)),
                       _pc("glibc", large, 310.0, (500, 1500))])
    md = report.markdown(res)
    small_at = md.index("### Instructions per malloc(32)+free pair")
    large_at = md.index("### Instructions per malloc(2 MiB)+free pair")
    assert small_at < large_at
    small, big = md[small_at:large_at], md[large_at:]
    assert "| hakmem-fast | 49.0 | 39.0 | 0.31× |" in small
    assert "| hakmem-fast | 280.0 | 270.0 | 0.90× |" in big
    assert "| glibc | 310.0 | 300.0 | 1.00× |" in big
    assert "N = 500 and 1500 pairs" in big and "N = 1 and 2 pairs" in small
    path = report.write_callgrind_csv(res, tmp_path / "cg.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:3] == ["allocator", "size", "status"]
    assert [(r["allocator"], r["size"]) for r in rows][-1] == ("glibc", str(large))
    pytest.importorskip("matplotlib")
    from hakmem.bench import charts
    assert charts.callgrind_chart(res, tmp_path / "cg.png").read_bytes()[:4] == b"\x89PNG"


def test_report_reads_results_from_before_the_large_pair(tmp_path):
    old = _pc("glibc", 32, 136.0)
    del old["size"]
    res = _cg_results([old])
    md = report.markdown(res)
    assert "malloc(32)+free pair" in md and "2 MiB" not in md
    with open(report.write_callgrind_csv(res, tmp_path / "cg.csv")) as f:
        assert next(csv.DictReader(f))["size"] == "32"


def test_default_set_and_matrix_set():
    default = [s.name for s in suite.select(None)]
    every = [s.name for s in suite.select(None, every=True)]
    assert set(default) <= set(every) == set(suite.SCENARIOS)
    assert "random_mixed" in default
    for name in set(every) - set(default):
        assert suite.select([name])[0].name == name      # still runnable by name


def test_geometric_mean_of_the_ratios():
    results = {"meta": {"baseline": "glibc"},
               "summary": [{"scenario": "a", "allocator": "x", "status": "ok", "ratio": 2.0},
                           {"scenario": "b", "allocator": "x", "status": "ok", "ratio": 0.5},
                           {"scenario": "c", "allocator": "x", "status": "crashed", "ratio": None},
                           {"scenario": "a", "allocator": "y", "status": "ok", "ratio": 4.0},
                           {"scenario": "a", "allocator": "glibc", "status": "ok", "ratio": 1.0}]}
    assert report.geomean_ratio(results, "x") == pytest.approx(1.0)   # the crashed run is left out
    assert report.geomean_ratio(results, "y") == pytest.approx(4.0)
    assert report.geomean_ratio(results, "glibc") is None
    assert report.geomean_ratio(results, "z") is None


def test_report_shows_peak_rss_of_every_scenario():
    results = {"meta": {"baseline": "glibc"},
               "allocators": [{"name": "glibc"}, {"name": "hakmem-fast"}],
               "scenarios": [{"name": "a"}, {"name": "b"}],
               "summary": [{"scenario": "a", "allocator": "glibc", "status": "ok", "maxrss_kib": 2048,
                            "rss_ratio": 1.0},
                           {"scenario": "a", "allocator": "hakmem-fast", "status": "ok", "maxrss_kib": 3072,
                            "rss_ratio": 1.5},
                           {"scenario": "b", "allocator": "glibc", "status": "ok", "maxrss_kib": 10240,
                            "rss_ratio": 1.0},
                           {"scenario": "b", "allocator": "hakmem-fast", "status": "crashed"}]}
    table = report.overview_table(results, "maxrss_kib", "rss_ratio", "scenario (peak RSS, MiB)", report.mib)
    assert "| `a` | 2.0 | 3.0 (1.50×) |" in table
    assert "| `b` | 10.0 | **crashed** |" in table
    assert "| geometric mean of the ratios | – | 1.50× |" in table
