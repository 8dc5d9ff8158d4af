"""bench/mode_costs.py on a made-up matrix: the ratios it takes, the memory target it applies and
the scenarios it marks above it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mode_costs", ROOT / "bench" / "mode_costs.py")
mode_costs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mode_costs)


def _row(scen, alloc, ops, cpu_ops, rss_kib, status="ok"):
    return {"scenario": scen, "allocator": alloc, "status": status, "ops_per_sec": ops,
            "cpu_ops_per_sec": cpu_ops, "maxrss_kib": rss_kib}


def _results():
    summary = []
    # "a": learning twice balanced's speed at the same RSS; fast above the target, balanced on it
    for alloc, ops, rss in (("hakmem-fast", 100.0, 6000), ("hakmem-balanced", 50.0, 6144),
                            ("hakmem-learning", 100.0, 6144), ("glibc", 10.0, 5120),
                            ("tcmalloc", 200.0, 9000)):
        summary.append(_row("a", alloc, ops, ops, rss))
    # "b": a small program, where the 1 MiB floor of the target applies
    for alloc, ops, rss in (("hakmem-fast", 10.0, 2100), ("hakmem-balanced", 10.0, 2000),
                            ("hakmem-learning", 9.0, 3100), ("glibc", 10.0, 2048),
                            ("tcmalloc", 5.0, 2000)):
        summary.append(_row("b", alloc, ops, ops / 2, rss))
    summary.append(_row("b", "mimalloc", None, None, None, status="crashed"))
    return {"meta": {"command": "hakmem bench --matrix", "machine": {"commit": "abc1234"}, "runs": 3},
            "scenarios": [{"name": "a"}, {"name": "b"}], "summary": summary,
            "callgrind": [{"allocator": "hakmem-fast", "size": 2 << 20, "status": "ok", "net": 280.0},
                          {"allocator": "glibc", "size": 2 << 20, "status": "ok", "net": 290.0},
                          {"allocator": "tcmalloc", "size": 2 << 20, "status": "ok", "net": 540.0}]}


def test_memory_target_is_the_larger_of_a_fifth_more_and_one_mib_more():
    assert mode_costs.memory_target_kib(100 * 1024) == 120 * 1024
    assert mode_costs.memory_target_kib(2 * 1024) == 3 * 1024


def test_ratios_between_modes_and_against_the_best_peer():
    m = mode_costs.Matrix(_results())
    assert m.quotient("a", "learning", "balanced") == 2.0
    assert m.quotient("a", "balanced", "fast") == 0.5
    assert m.quotient("b", "fast", "mimalloc") is None      # a crashed allocator has no figure
    text = mode_costs.report(_results())
    assert "| `a` | 2.00 | 2.00 | 6.0 / 6.0 | 0.50 | 0.50 |" in text
    assert "| `malloc(2 MiB)+free`, instructions (callgrind, net) | 280 | – | – | glibc 290 |" in text


def test_memory_table_marks_what_is_above_the_target():
    text = mode_costs.report(_results())
    # a: glibc 5.0 MiB, target 6.0: fast (5.9) under it, balanced and learning (6.0) on it, tcmalloc over
    assert "| `a` | 5.0 | 6.0 | 5.9 | 6.0 | 6.0 | **8.8** |" in text
    # b: glibc 2.0 MiB, target 3.0 (the 1 MiB floor): only learning (3.0 MiB + 28 KiB) is over
    assert "| `b` | 2.0 | 3.0 | 2.1 | 2.0 | **3.0** | 2.0 |" in text
    assert "| scenarios above the target |  |  | 0 | 0 | 1 | 1 |" in text
