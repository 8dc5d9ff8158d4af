"""Allocation tracing (research mode): every call of the malloc family is one record; `hakmem trace
summarize` and `hakmem trace replay` read the file; modes without the feature say so."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import cbuild
import diagbuild

TRACE_MODES = [m for m in cbuild.MODES if diagbuild.features(m).get("trace")]
pytestmark = pytest.mark.skipif(not TRACE_MODES, reason="no mode compiles tracing in")
PEERS = {"mimalloc": Path("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2")}


def _trace(tmp_path, threads="3", rounds="40", extra=None):
    from hakmem.diag import tracefile

    mode = TRACE_MODES[0]
    env = {"HAKMEM_TRACE_ALLOCATIONS": "1", "HAKMEM_TRACE_FILE": str(tmp_path / "run-%p.trace"),
           "HAKMEM_INTEGRITY_CHECKS": "0", **(extra or {})}
    res = diagbuild.run_preloaded("workload", mode, "release", [threads, rounds], env, timeout=120)
    assert res.returncode == 0, res.describe()
    files = sorted(tmp_path.glob("run-*.trace"))
    assert len(files) == 1, files
    return res, files[0], tracefile.read(files[0]), int(res.stdout.split("allocs=")[1])


def test_every_call_is_recorded(tmp_path):
    from hakmem.diag import tracefile

    res, path, tr, calls = _trace(tmp_path)
    r = tr.records
    assert tr.mode == TRACE_MODES[0] and tr.trailing_bytes == 0
    ops = {name: int((r["op"] == code).sum()) for code, name in tracefile.OPS.items()}
    per_thread_rounds = 3 * 40
    # the workload's own calls, exactly: nested calls (calloc -> malloc, realloc -> free) are not recorded
    assert ops["realloc"] == per_thread_rounds * 16
    assert int((r["op"] == tracefile.REALLOC_OLD).sum()) == ops["realloc"]   # every realloc had a block
    assert ops["calloc"] >= per_thread_rounds * 13
    assert ops["memalign"] >= per_thread_rounds * 26            # aligned_alloc + posix_memalign
    assert ops["free"] >= per_thread_rounds * 64
    assert sum(ops[k] for k in ("malloc", "calloc", "realloc", "memalign")) >= calls
    assert len(set(r["tid"].tolist())) >= 4                     # main + 3 workers
    assert (r["time_ns"][1:] >= r["time_ns"][:-1]).all()
    al = r[r["op"] == 5]
    assert set(al["aux"].tolist()) <= {32, 64}


def test_summarize(tmp_path):
    _, path, _, _ = _trace(tmp_path)
    proc = diagbuild.hakmem_cli("trace", "summarize", str(path))
    assert proc.returncode == 0, proc.stderr
    for word in ("records", "size histogram", "lifetimes", "threads (", "peak live"):
        assert word in proc.stdout, (word, proc.stdout)
    proc = diagbuild.hakmem_cli("trace", "summarize", str(path), "--json")
    s = json.loads(proc.stdout)
    assert s["ops"]["realloc"] == 3 * 40 * 16
    assert s["lifetimes"]["count"] > 0 and s["lifetimes"]["p50_us"] >= 0
    assert sum(h["count"] for h in s["sizes"]) > 0
    assert len(s["threads"]) >= 4


def test_replay_against_allocators(tmp_path):
    _, path, _, _ = _trace(tmp_path)
    allocs = ["hakmem-fast", "glibc"] + [n for n, p in PEERS.items() if p.exists()]
    args = ["trace", "replay", str(path), "--runs", "1", "--json"]
    for a in allocs:
        args += ["--allocator", a]
    proc = diagbuild.hakmem_cli(*args)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["results"]
    assert [r["allocator"] for r in rows] == allocs
    for r in rows:
        assert r["status"] == "ok", r
        assert r["failed"] == 0 and r["anomalies"] == 0, r
        assert r["ops"] > 3 * 40 * 64
    assert len({r["checksum"] for r in rows}) == 1               # same operations, same bytes written


def test_replay_defaults_to_the_recorded_mode_and_glibc(tmp_path):
    _, path, tr, _ = _trace(tmp_path, "1", "5")
    proc = diagbuild.hakmem_cli("trace", "replay", str(path), "--runs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["allocator"] for r in doc["results"]] == [f"hakmem-{tr.mode}", "glibc"]
    assert all(r["status"] == "ok" for r in doc["results"]), doc
    assert f"hakmem-{tr.mode} (the mode the trace was recorded in)" in doc["chosen"]
    proc = diagbuild.hakmem_cli("trace", "replay", str(path), "--runs", "1")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]                          # the text output says what it chose
    assert first.startswith(f"allocators: hakmem-{tr.mode} (the mode") and "glibc" in first, proc.stdout


def test_replay_default_for_a_trace_naming_no_mode(tmp_path):
    from hakmem import loader

    _, path, _, _ = _trace(tmp_path, "1", "2")
    data = bytearray(path.read_bytes())
    data[32:48] = bytes(16)                                      # as if written by another recorder
    anon = tmp_path / "anon.trace"
    anon.write_bytes(bytes(data))
    proc = diagbuild.hakmem_cli("trace", "replay", str(anon), "--runs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    default = loader.default_mode()
    assert [r["allocator"] for r in doc["results"]] == [f"hakmem-{default}", "glibc"]
    assert "the default mode; the trace names no known mode" in doc["chosen"]


def test_unknown_allocator_is_an_error(tmp_path):
    _, path, _, _ = _trace(tmp_path, "1", "2")
    proc = diagbuild.hakmem_cli("trace", "replay", str(path), "--allocator", "nosuch", "--runs", "1")
    assert proc.returncode == 1 and "nosuch" in proc.stdout + proc.stderr


def test_not_a_trace(tmp_path):
    f = tmp_path / "x.trace"
    f.write_bytes(b"hello world" * 10)
    proc = diagbuild.hakmem_cli("trace", "summarize", str(f))
    assert proc.returncode == 1 and "not a hakmem trace" in proc.stderr


def test_fork_child_writes_its_own_file(tmp_path):
    """fork_threads forks children; with "%p" in the name each process writes its own trace."""
    mode = TRACE_MODES[0]
    env = {"HAKMEM_TRACE_ALLOCATIONS": "1", "HAKMEM_TRACE_FILE": str(tmp_path / "f-%p.trace"),
           "HAKMEM_INTEGRITY_CHECKS": "0"}
    res = cbuild.run_driver("fork_threads", mode, "release", env=env, timeout=180)
    cbuild.assert_clean(res, mode, "release", env)
    files = list(tmp_path.glob("f-*.trace"))
    assert len(files) >= 2, files
    from hakmem.diag import tracefile

    pids = {tracefile.read(f).pid for f in files}
    assert len(pids) == len(files)


@pytest.mark.parametrize("mode", [m for m in cbuild.MODES if not diagbuild.features(m).get("trace")][:1])
def test_mode_without_trace_says_so(mode, tmp_path):
    env = {"HAKMEM_TRACE_ALLOCATIONS": "1", "HAKMEM_TRACE_FILE": str(tmp_path / "t.trace")}
    res = diagbuild.run_preloaded("workload", mode, "release", ["1", "2"], env, timeout=60)
    assert res.returncode == 0, res.describe()
    assert not (tmp_path / "t.trace").exists()
    assert any("trace" in l.lower() for l in diagbuild.hakmem_lines(res.stderr)), res.stderr
