"""The hardened mode on broken programs (c/heap_errors.c, c/heap_errors_cxx.cc): every heap error it
claims to catch ends in one "hakmem: " line naming it, then SIGABRT; with HAKMEM_ERROR_ACTION=report
the errors a check finds are reported and the program goes on; the errors no allocator can see run
to the end; correct programs run clean. Impossible sizes fail cleanly in every mode, and the fast
mode, which has none of these checks, is the control that misses the errors."""
from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for _p in (str(HERE.parent / "core"), str(HERE.parent / "diagnostics")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import cbuild  # noqa: E402
import diagbuild  # noqa: E402
import support  # noqa: E402

BUILD = cbuild.ROOT / "build" / "tests-hardened" / "heap-errors"
HARDENED = [m for m in cbuild.MODES if diagbuild.features(m).get("free_check")]
CONFIGS = [pytest.param(m, v, id=f"{m}-{v}") for m in HARDENED for v in ("release", "debug")]

# -fno-allocation-dce keeps each new/delete a call to the operator under test.
CXXFLAGS = ["-std=c++17", "-O1", "-g", "-pthread", "-fno-allocation-dce", "-Wall", "-Wextra",
            "-Wno-mismatched-new-delete", "-Wno-free-nonheap-object"]

A = r"0x[0-9a-f]+"
GUARD = rf"SIGSEGV at {A}: .*guard page"
OVER = rf"write past the end of the (\d+-byte )?block {A}"
UNDER = r"write before the start of the (\d+-byte )?block"
DOUBLE = rf"double free of (the large block )?{A}"
INVALID = rf"invalid pointer {A}"
MISMATCH = rf"size mismatch for {A}"
EXEC = rf"SIGSEGV at {A}: execution of heap memory"
ZERO = rf"SIGSEGV at {A}: access to a zero-size block"

# case -> the pattern its one report line must match (alternatives: either one)
DETECTED: dict[str, tuple[str, ...]] = {
    "overflow_1_write": (OVER,),
    "overflow_32_write": (OVER,),
    "overflow_1_memcpy": (OVER,),
    "overflow_32_memcpy": (OVER,),
    "overflow_1mib": (OVER, GUARD),
    "overflow_tight": (OVER,),
    "overflow_large_1": (r"write past the end of the 100000-byte block",),
    "overflow_large_1mib": (OVER, GUARD),
    "underflow_1": (UNDER,),
    "underflow_32": (UNDER,),
    "underflow_large_1": (GUARD,),
    "double_plain": (DOUBLE,),
    "double_delayed": (DOUBLE,),
    "double_interleaved": (DOUBLE,),
    "double_after_reuse": (DOUBLE,),
    "double_large": (DOUBLE,),
    "invalid_stack": (INVALID,),
    "invalid_alloca": (INVALID,),
    "invalid_global": (INVALID,),
    "invalid_unaligned": (rf"invalid pointer {A}: 1 byte into the block {A}",),
    "invalid_interior": (rf"invalid pointer {A}: 16 bytes into the block {A}",),
    "invalid_far": (INVALID,),
    "invalid_large_interior": (INVALID,),
    "uaf_write": (r"use after free",),
    "uaf_write_link": (r"use after free",),
    # at the write if the freed block's pages are gone, else when the block is handed out again
    "uaf_large_write": (rf"SIGSEGV at {A}: use after free of the large block",
                        rf"use after free: the freed large block {A}"),
    "zero_write": (ZERO,),
    "zero_read": (ZERO,),
    "exec_heap": (EXEC,),
    "exec_heap_rie": (EXEC,),
    "cxx_delete_array_as_scalar": (MISMATCH,),
    "cxx_delete_array_dtor_as_scalar": (rf"invalid pointer {A}: 8 bytes into the block",),
    "cxx_malloc_delete": (MISMATCH,),
}

# The requested size a report may name, where it names one ("the 40-byte block").
SIZES = {"overflow_tight": 24, "overflow_large_1": 100000, "overflow_large_1mib": 100000,
         "underflow_large_1": 100000}
# One byte past the end: the report says so, or names the size tag that byte broke.
ONE_BYTE = ("overflow_1_write", "overflow_1_memcpy", "overflow_tight")

# Found by a fault rather than a check: there is nothing to go on with after it. (A run of writes that
# may reach a guard page, and a freed large block that may have lost its pages, are told by the line.)
FAULTS = {"underflow_large_1", "zero_write", "zero_read", "exec_heap", "exec_heap_rie"}

# Stopped, but by the kernel: the run of writes starts 1 MiB below the block, outside hakmem's memory
# unless the block happens to lie more than 1 MiB into its SuperSlab, so the fault is not one of
# hakmem's to name. If hakmem does name it, the line must say what it was.
UNNAMED = {"underflow_1mib": (UNDER, GUARD)}

# Undetectable by design, with the reason: each must run to its marker and exit 0 under hardened.
UNDETECTABLE = {
    "uaf_write_noreuse": "the freed block is never handed out again, so nothing looks at it before exit",
    "uaf_read": "a read changes nothing; only hardware tagging or instrumented code can see it",
    "cxx_new_free": "one allocator serves new and malloc, so the mismatch is harmless and invisible",
}

# Errors fast must let through: it has no checks, so catching them would mean the harness is wrong.
# (underflow_large_1 is not here: the page below a large mapping may be unmapped, and fast faults.)
FAST_MISSES = ["overflow_1_write", "overflow_32_write", "overflow_1_memcpy", "overflow_32_memcpy",
               "overflow_tight", "overflow_large_1", "underflow_1", "underflow_32", "uaf_write"]

ERROR_CASES = sorted(DETECTED) + sorted(UNNAMED) + sorted(UNDETECTABLE)


def program(case: str) -> Path:
    """The binary that has `case`, compiled once (it does not depend on any libhakmem.so)."""
    deps = [Path(__file__)]
    if case.startswith("cxx_"):
        src = HERE / "c" / "heap_errors_cxx.cc"
        cmd = ["g++"] + CXXFLAGS + [str(src)]
        return support.compile_once(BUILD / "heap_errors_cxx", cmd, [src, *deps])
    src = HERE / "c" / "heap_errors.c"
    cmd = ["gcc"] + diagbuild.PLAIN_CFLAGS + [str(src)]
    return support.compile_once(BUILD / "heap_errors", cmd, [src, *deps])


def run_case(case: str, mode: str, variant: str, env: dict | None = None) -> cbuild.Result:
    return cbuild.run([str(program(case)), case], cbuild.preload_env(mode, variant, env), timeout=60)


def assert_report(case: str, line: str) -> None:
    assert any(re.search(p, line) for p in {**DETECTED, **UNNAMED}[case]), f"{case}: {line}"
    named = re.search(r"the (\d+)-byte block", line)
    if named and case.startswith(("overflow_", "underflow_")):
        assert int(named.group(1)) == SIZES.get(case, 40), line
    if case in ONE_BYTE and not re.search(GUARD, line):
        assert "(1 byte past the end)" in line or "size tag" in line, line


def assert_missed(case: str, res: cbuild.Result) -> None:
    assert res.returncode == 0 and f"MISSED {case}" in res.lines, res.describe()


@pytest.mark.parametrize("mode,variant", CONFIGS)
@pytest.mark.parametrize("case", sorted(DETECTED))
def test_error_is_reported_then_abort(built, case, mode, variant):
    res = run_case(case, mode, variant)
    lines = support.hakmem_lines(res.stderr)
    assert res.returncode == -signal.SIGABRT, res.describe()
    assert "start" in res.lines and not any(l.startswith("MISSED") for l in res.lines), res.describe()
    assert len(lines) == 1, res.stderr
    assert_report(case, lines[0])


@pytest.mark.parametrize("mode,variant", CONFIGS)
@pytest.mark.parametrize("case", sorted(UNNAMED))
def test_error_outside_the_heap_still_stops(built, case, mode, variant):
    res = run_case(case, mode, variant)
    lines = support.hakmem_lines(res.stderr)
    assert res.returncode in (-signal.SIGSEGV, -signal.SIGABRT), res.describe()
    assert "start" in res.lines and not any(l.startswith("MISSED") for l in res.lines), res.describe()
    assert len(lines) <= 1, res.stderr
    for line in lines:
        assert_report(case, line)


@pytest.mark.parametrize("mode,variant", CONFIGS)
@pytest.mark.parametrize("case", sorted(set(DETECTED) - FAULTS))
def test_report_action_goes_on(built, case, mode, variant):
    """HAKMEM_ERROR_ACTION=report: the one line, then the program carries on past the error. A run of
    writes that reached a guard page is a fault, which still aborts."""
    res = run_case(case, mode, variant, {"HAKMEM_ERROR_ACTION": "report"})
    lines = support.hakmem_lines(res.stderr)
    assert len(lines) == 1, res.describe()
    assert_report(case, lines[0])
    if lines[0].startswith("hakmem: SIGSEGV"):
        assert res.returncode == -signal.SIGABRT, res.describe()
    else:
        assert_missed(case, res)


@pytest.mark.parametrize("mode,variant", CONFIGS)
@pytest.mark.parametrize("case", sorted(UNDETECTABLE))
def test_undetectable_errors_run_through(built, case, mode, variant):
    res = run_case(case, mode, variant)
    assert_missed(case, res)
    assert not support.hakmem_lines(res.stderr), res.stderr


@pytest.mark.parametrize("mode", cbuild.MODES)
def test_impossible_sizes_fail_cleanly(built, mode):
    res = run_case("impossible_sizes", mode, "release")
    assert res.returncode == 0 and "ok impossible_sizes" in res.lines, res.describe()


@pytest.mark.parametrize("mode,variant", CONFIGS)
@pytest.mark.parametrize("case", ["ok", "cxx_ok"])
def test_correct_program_runs_clean(built, case, mode, variant):
    res = run_case(case, mode, variant)
    assert res.returncode == 0 and "end" in res.lines, res.describe()
    assert not support.hakmem_lines(res.stderr), res.stderr


def test_fast_misses_what_hardened_adds(built):
    """The control: fast has none of the checks, so the same programs run past their errors."""
    results = {case: run_case(case, "fast", "release") for case in ERROR_CASES}
    caught = [c for c in FAST_MISSES + sorted(UNDETECTABLE)
              if results[c].returncode != 0 or f"MISSED {c}" not in results[c].lines]
    assert not caught, "\n".join(results[c].describe() for c in caught)
    ok = run_case("ok", "fast", "release")
    assert ok.returncode == 0 and "end" in ok.lines, ok.describe()
