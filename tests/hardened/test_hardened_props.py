"""The hardened mode on correct programs (c/hardened_props.c): fresh blocks in a shuffled order that a
seed reproduces, guard pages around SuperSlabs and large blocks, mappings that stay non-executable
after a program sets READ_IMPLIES_EXEC, faulting zero-size blocks that behave as blocks otherwise,
a freed block held back by the quarantine, usable sizes that are the sizes asked for, a SIGSEGV the
program raises itself still killing it, and guard pages that stop short of the kernel's mapping limit.
Each knob that turns a protection off shows the difference, and the fast mode is the control."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "core"))

import cbuild  # noqa: E402
from hakmem import loader  # noqa: E402

HARDENED = [m for m in cbuild.MODES if loader.resolve_mode(m).features.get("free_check")]
CASES = [pytest.param(m, v, id=f"{m}-{v}") for m in HARDENED for v in ("release", "debug")]
BUILD = cbuild.ROOT / "build" / "tests-hardened"


def props(what: str, mode: str | None, variant: str = "release", env: dict | None = None) -> cbuild.Result:
    res = cbuild.run_driver("hardened_props", mode, variant if mode else cbuild.GLIBC, [what], env,
                            timeout=120, src_dir=HERE / "c", build=BUILD)
    cbuild.assert_clean(res, mode, variant, env)
    return res


def info(res: cbuild.Result, key: str) -> str:
    return next(l.split(" ", len(key.split()))[-1] for l in res.lines if l.startswith(key + " "))


def offsets(res: cbuild.Result) -> list[int]:
    return [int(x) for x in info(res, "order").split()]


@pytest.mark.parametrize("mode,variant", CASES)
def test_fresh_blocks_come_shuffled_and_a_seed_repeats_the_order(built, mode, variant):
    a, b = offsets(props("order", mode, variant)), offsets(props("order", mode, variant))
    assert a != sorted(a) and a != b                   # shuffled, and differently in each process
    s1 = offsets(props("order", mode, variant, {"HAKMEM_HARDENED_SEED": "7"}))
    s2 = offsets(props("order", mode, variant, {"HAKMEM_HARDENED_SEED": "7"}))
    assert s1 == s2 != sorted(s1)
    plain = offsets(props("order", mode, variant, {"HAKMEM_SHUFFLE": "0"}))
    assert plain == sorted(plain)
    fast = offsets(props("order", "fast"))
    assert fast == sorted(fast)                        # the control: address order


@pytest.mark.parametrize("mode,variant", CASES)
def test_guard_pages_fence_superslabs_and_large_blocks(built, mode, variant):
    res = props("maps", mode, variant)
    assert info(res, "guarded small") == "1" and info(res, "guarded large") == "1", res.stdout
    off = props("maps", mode, variant, {"HAKMEM_GUARD_PAGES": "0"})
    assert info(off, "guarded small") == "0" and info(off, "guarded large") == "0", off.stdout
    fast = props("maps", "fast")
    assert info(fast, "guarded small") == "0" and info(fast, "guarded large") == "0", fast.stdout


@pytest.mark.parametrize("mode,variant", CASES)
def test_heap_stays_non_executable_after_read_implies_exec(built, mode, variant):
    res = props("nx", mode, variant)
    assert (info(res, "exec small"), info(res, "exec large")) == ("0", "0"), res.stdout
    off = props("nx", mode, variant, {"HAKMEM_NX_HEAP": "0"})
    assert (info(off, "exec small"), info(off, "exec large")) == ("1", "1"), off.stdout
    fast = props("nx", "fast")
    assert (info(fast, "exec small"), info(fast, "exec large")) == ("1", "1"), fast.stdout


@pytest.mark.parametrize("mode,variant", CASES)
@pytest.mark.parametrize("zero_fault", ["1", "0"])
def test_zero_size_blocks(built, mode, variant, zero_fault):
    res = props("zero", mode, variant, {"HAKMEM_ZERO_FAULT": zero_fault})
    assert {"zero.unique", "zero.usable", "zero.realloc", "zero.calloc"} <= set(res.oks)


@pytest.mark.parametrize("mode,variant", CASES)
def test_quarantine_holds_a_freed_block_back(built, mode, variant):
    held = int(info(props("reuse", mode, variant), "reuse"))
    default = loader.resolve_mode(mode).values["quarantine_blocks"]
    assert held >= default, held
    assert int(info(props("reuse", mode, variant, {"HAKMEM_QUARANTINE_BLOCKS": "0"}), "reuse")) < default
    assert int(info(props("reuse", "fast"), "reuse")) == 0      # the control: LIFO reuse at once


@pytest.mark.parametrize("mode,variant", CASES)
def test_usable_size_is_the_size_asked_for(built, mode, variant):
    assert "sizes" in props("sizes", mode, variant).oks


@pytest.mark.parametrize("mode,variant", CASES)
def test_a_sent_sigsegv_still_kills(built, mode, variant):
    res = cbuild.run_driver("hardened_props", mode, variant, ["raise"], timeout=60, src_dir=HERE / "c",
                            build=BUILD)
    assert res.returncode == -11 and "survived raise" not in res.stdout, res.describe()


@pytest.mark.parametrize("mode,variant", CASES)
def test_guard_pages_leave_the_program_its_mappings(built, mode, variant):
    assert {"many.malloc", "many.thread", "many.mmap"} <= set(props("many", mode, variant).oks)
