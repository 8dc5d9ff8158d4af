"""Statistics: the exit report (text and JSON with the keys tools rely on), interval samples from
the background thread (fork-safe), syscall profiling, and `hakmem stats FILE` (tables and a PNG)."""
from __future__ import annotations

import json

import pytest

import cbuild
import diagbuild

STATS_MODES = [m for m in cbuild.MODES if diagbuild.features(m).get("stats")]


def _workload(mode, tmp_path, env, args=("2", "50")):
    f = tmp_path / "stats.json"
    res = diagbuild.run_preloaded("workload", mode, "release", list(args),
                                  {"HAKMEM_STATS_FILE": str(f), **env}, timeout=120)
    assert res.returncode == 0, res.describe()
    calls = int(res.stdout.split("allocs=")[1])
    return res, json.loads(f.read_text()), calls


@pytest.mark.parametrize("mode", STATS_MODES)
def test_json_report(mode, tmp_path):
    res, d, calls = _workload(mode, tmp_path, {"HAKMEM_STATS_ENABLE": "0"})
    assert not diagbuild.hakmem_lines(res.stderr)        # no text report without STATS_ENABLE
    for key in ("totals", "classes", "heaps", "syscalls", "process", "tiers", "large"):
        assert key in d, key
    t = d["totals"]
    # every block the workload was handed was counted; a realloc that stays in place hands out no new
    # block, so the 16 reallocs per thread and round may or may not count
    reallocs = 2 * 50 * 16
    assert calls - reallocs <= t["allocs"] <= calls + 200
    assert t["frees"] >= calls - reallocs - 2
    assert t["cache_hits"] + t["cache_misses"] == t["small_allocs"]
    assert [x["tier"] for x in d["tiers"]] == ["tiny", "pool", "mid", "large"]
    assert sum(x["allocs"] for x in d["tiers"]) == t["allocs"]
    assert d["tiers"][3]["allocs"] > 0                   # the workload makes blocks above 32 KiB
    for c in d["classes"]:
        assert c["hits"] + c["misses"] == c["allocs"] or c["misses"] > c["allocs"]
        assert 0.0 <= c["hit_rate"] <= 1.0
    assert d["syscalls"]["mmap"] >= 1 and d["syscalls"]["mmap_bytes"] > 0
    assert d["process"]["rss_bytes"] > 0 and d["process"]["minflt"] > 0
    assert d["totals"]["peak_mapped_bytes"] >= d["totals"]["mapped_bytes"]


def test_text_report_tiers_classes_syscalls(tmp_path):
    res, d, _ = _workload("balanced", tmp_path, {"HAKMEM_STATS_ENABLE": "1", "HAKMEM_PROFILE_SYSCALLS": "1"})
    err = res.stderr
    assert "hakmem stats (mode balanced" in err
    for word in ("tier ", "tiny", "pool", "mid", "large", "class", "hit%", "syscalls: mmap", "RSS",
                 "page faults", "remote frees", "SuperSlabs"):
        assert word in err, (word, err)
    assert d["syscalls"]["profiled"] is True


def test_verbose_report_has_flushes(tmp_path):
    res, _, _ = _workload("balanced", tmp_path, {"HAKMEM_STATS_ENABLE": "1", "HAKMEM_STATS_VERBOSE": "1"})
    assert "flushes" in res.stderr and "syscalls: mmap" in res.stderr


def test_learner_state_in_report(tmp_path):
    if "learning" not in cbuild.MODES:
        pytest.skip("no learning mode")
    res, d, _ = _workload("learning", tmp_path, {"HAKMEM_STATS_ENABLE": "1"})
    if "learning" not in d:
        pytest.skip("the learners do not report yet")
    assert "learning" in res.stderr


def test_interval_samples(tmp_path):
    # 2 threads x 25 rounds x 100 ms sleep: about 2.5 s of run time with 1 s intervals
    res, d, _ = _workload("balanced", tmp_path, {"HAKMEM_STATS_INTERVAL_SEC": "1", "HAKMEM_STATS_ENABLE": "1"},
                          ("2", "25", "100"))
    iv = d["intervals"]
    assert d["interval_sec"] == 1
    assert len(iv) >= 3, iv            # two periodic samples and the one at exit
    for s in iv:
        for k in ("t", "rss_bytes", "allocs", "frees", "in_use_bytes"):
            assert k in s
    assert [s["t"] for s in iv] == sorted(s["t"] for s in iv)
    assert sum(s["allocs"] for s in iv) == iv[-1]["allocs_total"]
    assert sum(s["allocs"] for s in iv[:-1]) > 0       # the thread sampled while the program ran
    periodic = [l for l in diagbuild.hakmem_lines(res.stderr) if "stats t=" in l]
    assert len(periodic) >= 2, res.stderr


def test_interval_thread_survives_fork():
    """fork_threads (tests/core) forks from a threaded program: with the interval thread running in the
    parent, children must still allocate, report and exit cleanly."""
    env = {"HAKMEM_STATS_INTERVAL_SEC": "1", "HAKMEM_STATS_ENABLE": "1"}
    res = cbuild.run_driver("fork_threads", "balanced", "release", env=env, timeout=180)
    cbuild.assert_clean(res, "balanced", "release", env)


@pytest.mark.parametrize("mode", [m for m in ("fast", "balanced") if m in cbuild.MODES])
def test_hak_stats_json_on_demand(mode):
    """hak_stats_json() answers in every mode; without the stats feature the per-class counters are
    absent but totals of the slow-path counters, heaps and syscalls are there."""
    res = diagbuild.run_preloaded("workload", mode, "release", ["1", "20"], {"WORKLOAD_STATS_JSON": "1"},
                                  timeout=60)
    assert res.returncode == 0, res.describe()
    line = next(l for l in res.stdout.splitlines() if l.startswith("json "))
    d = json.loads(line[5:])
    assert d["mode"] == mode
    assert d["stats_compiled"] is (mode != "fast")
    assert d["heaps"]["refills"] > 0 and d["syscalls"]["mmap"] > 0
    if mode != "fast":
        assert d["totals"]["allocs"] > 20 * 64 - 20 * 16


def test_cli_tables_and_chart(tmp_path):
    _, d, _ = _workload("balanced", tmp_path, {"HAKMEM_STATS_INTERVAL_SEC": "1"}, ("2", "12", "100"))
    png = tmp_path / "chart.png"
    proc = diagbuild.hakmem_cli("stats", str(tmp_path / "stats.json"), "--chart", str(png))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for word in ("per tier:", "per size class:", "hit rate", "syscalls:", "intervals ("):
        assert word in out, (word, out)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_rejects_other_json(tmp_path):
    f = tmp_path / "x.json"
    f.write_text('{"a": 1}')
    proc = diagbuild.hakmem_cli("stats", str(f), "--no-chart")
    assert proc.returncode == 1 and "not a hakmem stats file" in proc.stderr


def test_stats_file_per_process(tmp_path):
    """"%p" in HAKMEM_STATS_FILE: a forking program leaves one report per process."""
    env = {"HAKMEM_STATS_FILE": str(tmp_path / "s-%p.json")}
    res = cbuild.run_driver("fork_threads", "balanced", "release", env=env, timeout=180)
    cbuild.assert_clean(res, "balanced", "release", env)
    files = list(tmp_path.glob("s-*.json"))
    assert len(files) >= 2, files
    for f in files:
        assert "totals" in json.loads(f.read_text())


@pytest.mark.parametrize("checks", ["0", "1"])
@pytest.mark.parametrize("mode", STATS_MODES)
def test_class_frees_match_allocs(mode, checks, tmp_path):
    """A program that frees every block it made (across refills, flushes, storms, other threads;
    with integrity checks, frees that never enter a bin) shows as many frees as allocations in
    every class, and at least the allocations it made."""
    if checks == "1" and not diagbuild.features(mode).get("integrity"):
        pytest.skip("integrity checks not compiled in")
    f = tmp_path / "stats.json"
    env = {"HAKMEM_STATS_FILE": str(f), "HAKMEM_INTEGRITY_CHECKS": checks}
    if diagbuild.features(mode).get("quarantine"):
        env["HAKMEM_QUARANTINE_BLOCKS"] = "0"    # a quarantined block's free counts when it leaves
    res = diagbuild.run_preloaded("bin_counts", mode, "release", [], env, timeout=120)
    assert res.returncode == 0, res.describe()
    made = int(res.stdout.split("allocs=")[1])
    d = json.loads(f.read_text())
    for c in d["classes"]:
        assert 0 <= c["allocs"] - c["frees"] <= 3, c   # a few blocks the C library keeps to the end
    assert d["totals"]["small_allocs"] >= made
