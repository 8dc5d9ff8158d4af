"""The C++ allocation operators of the interposing variants (src/cxx_operators.c): exported in every
form, serving a g++-built program (c/cxx_ops.cc) under LD_PRELOAD in every mode's release and debug
library, a sized delete stating the wrong size reported under debug, and a C program that loads
libhakmem.so without libstdc++ (c/no_cxx_runtime.c). The glibc control run proves the driver."""
from __future__ import annotations

import re
import signal

import pytest

import cbuild
import cxxbuild
from hakmem import loader

PRELOAD_CASES = cbuild.cases(cxxbuild.INTERPOSING)
ALL_CASES = cbuild.cases()
INTEGRITY_MODES = [m for m in cbuild.MODES if loader.resolve_mode(m).features.get("integrity")]
HARDENED_MODES = [m for m in cbuild.MODES if loader.resolve_mode(m).features.get("free_check")]
# Where integrity checks run: every debug library, release libraries of the modes that compile them
# in, asked for through the environment, and those of the modes whose hardened checks are always on.
CHECKED = ([pytest.param(m, "debug", {}, id=f"{m}-debug") for m in cbuild.MODES]
           + [pytest.param(m, "release", {"HAKMEM_INTEGRITY_CHECKS": "1"}, id=f"{m}-release-checks")
              for m in INTEGRITY_MODES]
           + [pytest.param(m, "release", {}, id=f"{m}-release") for m in HARDENED_MODES])
CXX_RUNTIME = ("_ZSt15get_new_handlerv", "_ZSt17__throw_bad_allocv")


@pytest.fixture(scope="module")
def cxx_ops():
    return cxxbuild.compile_cxx("cxx_ops")


def test_driver_calls_every_form(cxx_ops):
    """The driver refers to all 20 forms (plain, array, nothrow, sized, aligned), so the checks below
    that take their names from it cover every one."""
    names = cxxbuild.operator_symbols(cxx_ops)
    assert len(names) == 20, names
    assert {"_Znwm", "_ZdlPvm", "_ZdaPvm", "_ZnwmSt11align_val_t", "_ZdaPvmSt11align_val_t"} <= set(names)


@pytest.mark.parametrize("mode,variant", ALL_CASES)
def test_operators_exported_where_the_variant_interposes(cxx_ops, mode, variant):
    syms = cxxbuild.symbols(cbuild.require_so(mode, variant), "--defined-only")
    exported = [n for n in cxxbuild.operator_symbols(cxx_ops) if syms.get(n) == "T"]
    if variant in cxxbuild.INTERPOSING:
        assert len(exported) == 20, sorted(set(cxxbuild.operator_symbols(cxx_ops)) - set(exported))
    else:
        assert exported == [], f"{variant} does not interpose, yet exports {exported}"


@pytest.mark.parametrize("mode,variant", ALL_CASES)
def test_library_does_not_need_libstdcxx(mode, variant):
    so = cbuild.require_so(mode, variant)
    assert not [n for n in cxxbuild.needed(so) if "stdc++" in n], cxxbuild.needed(so)
    if variant in cxxbuild.INTERPOSING:
        undefined = cxxbuild.symbols(so, "--undefined-only")
        # The C++ runtime is referred to weakly only, so nothing has to provide it.
        assert all(undefined.get(s) == "w" for s in CXX_RUNTIME), {s: undefined.get(s) for s in CXX_RUNTIME}


def test_cxx_ops_glibc_control(cxx_ops):
    res = cxxbuild.run(cxx_ops, None, cbuild.GLIBC)
    cbuild.assert_clean(res)
    assert "info hakmem_loaded=0" in res.lines
    assert {"throw.handler_loop", "nothrow.null", "sized.cross_thread", "aligned.alignment"} <= set(res.oks)


@pytest.mark.parametrize("mode,variant", PRELOAD_CASES)
def test_cxx_ops(cxx_ops, mode, variant):
    res = cxxbuild.run(cxx_ops, mode, variant, timeout=240)
    cbuild.assert_clean(res, mode, variant)
    assert "info hakmem_loaded=1" in res.lines, res.describe()
    expected = {"forms.resolve", "forms.serve", "aligned.alignment", "nothrow.null", "nothrow.aligned_null",
                "throw.bad_alloc", "throw.aligned_bad_alloc", "throw.handler_loop", "throw.handler_exception",
                "zero.unique", "zero.hakmem", "sized.same_thread", "sized.cross_thread"}
    assert expected <= set(res.oks), sorted(expected - set(res.oks))
    assert not cxxbuild.hakmem_lines(res.stderr), res.stderr


MISMATCH = {
    "small": ((40, 48), r"operator delete\(\): size mismatch for 0x[0-9a-f]+: 48 bytes given, the block is "
                        r"40 bytes \(tiny size class \d+, \d+ B\)"),
    "pool": ((5000, 4000), r"size mismatch for 0x[0-9a-f]+: 4000 bytes given, the block is 5000 bytes "
                           r"\(pool size class"),
    "large": ((100000, 1 << 20), r"size mismatch for 0x[0-9a-f]+: 1048576 bytes given, the block is "
                                 r"(at most \d+|100000) bytes \(large block\)"),  # hardened knows it exactly
}


@pytest.mark.parametrize("mode,variant,env", CHECKED)
@pytest.mark.parametrize("kind", sorted(MISMATCH))
def test_sized_delete_mismatch_is_reported(cxx_ops, kind, mode, variant, env):
    (size, given), pattern = MISMATCH[kind]
    res = cxxbuild.run(cxx_ops, mode, variant, ["mismatch", size, given], env, timeout=60)
    lines = cxxbuild.hakmem_lines(res.stderr)
    assert res.returncode == -signal.SIGABRT, res.describe()
    assert "start" in res.stdout and "end" not in res.stdout, res.describe()
    assert len(lines) == 1 and re.search(pattern, lines[0]), res.stderr


@pytest.mark.parametrize("mode,variant,env", CHECKED)
def test_sized_delete_right_size_is_quiet(cxx_ops, mode, variant, env):
    for size in (0, 40, 5000, 100000):
        res = cxxbuild.run(cxx_ops, mode, variant, ["mismatch", size, size], env, timeout=60)
        assert res.returncode == 0 and "end" in res.stdout, res.describe()
        assert not cxxbuild.hakmem_lines(res.stderr), res.stderr


@pytest.mark.parametrize("mode,variant", PRELOAD_CASES)
def test_c_program_loads_no_libstdcxx(mode, variant):
    res = cxxbuild.run(cxxbuild.compile_c("no_cxx_runtime"), mode, variant, timeout=60)
    cbuild.assert_clean(res, mode, variant)
    assert {"libstdcxx.not_mapped", "operator_new.served"} <= set(res.oks), res.describe()


@pytest.mark.parametrize("mode,variant", PRELOAD_CASES)
def test_throwing_new_without_cxx_runtime_aborts(mode, variant):
    """A throwing new that fails where nothing can throw std::bad_alloc: one line, then abort."""
    res = cxxbuild.run(cxxbuild.compile_c("no_cxx_runtime"), mode, variant, ["fail"], timeout=60)
    lines = cxxbuild.hakmem_lines(res.stderr)
    assert res.returncode == -signal.SIGABRT, res.describe()
    assert "start" in res.stdout and "end" not in res.stdout, res.describe()
    assert len(lines) == 1 and re.search(
        r"operator new\(4611686018427387904\): out of memory, and no libstdc\+\+ is loaded", lines[0]), res.stderr
