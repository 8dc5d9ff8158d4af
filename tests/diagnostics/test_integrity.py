"""Integrity checks: each heap error of c/integrity_errors.c ends in one clear hakmem line and SIGABRT,
under the debug variant (checks forced on, every mode) and under release builds of the modes that
compile integrity in, with HAKMEM_INTEGRITY_CHECKS=1. The asan variant catches a use after free of a
hak_malloc block (c/asan_uaf.c)."""
from __future__ import annotations

import re
import signal

import pytest

import cbuild
import diagbuild

# kind -> pattern the single report line must match
ERRORS = {
    "overflow": r"free\(\): write past the end of the 40-byte block 0x[0-9a-f]+ \(tiny size class \d+, \d+ B, "
                r"allocated by thread \d+\): canary overwritten at offset 40",
    "offbyone": r"free\(\): write past the end of the 5-byte block 0x[0-9a-f]+ .*offset 5 \(1 byte past the end\)",
    "double": r"free\(\): double free of 0x[0-9a-f]+ \(40-byte block, tiny size class \d+, \d+ B, "
              r"allocated by thread \d+\)",
    "interior": r"free\(\): invalid pointer 0x[0-9a-f]+: 16 bytes into the block 0x[0-9a-f]+ \(tiny size class \d+, "
                r"\d+ B, a live 40-byte block allocated by thread \d+\), not its start",
    "foreign": r"free\(\): invalid pointer 0x[0-9a-f]+: not a live block \(never allocated by hakmem",
    "largedouble": r"free\(\): invalid pointer 0x[0-9a-f]+: not a live block .*a large block already freed",
    "realloc": r"realloc\(\): use of an already freed block 0x[0-9a-f]+",
    "memalign": r"free\(\): write past the end of the 100-byte block 0x[0-9a-f]+",
}

INTEGRITY_MODES = [m for m in cbuild.MODES if diagbuild.features(m).get("integrity")]
# the hardened mode's own checks replace these in its debug variant (tests/hardened)
DEBUG_MODES = [m for m in cbuild.MODES if not diagbuild.features(m).get("free_check")]
CONFIGS = ([pytest.param(m, "debug", {}, id=f"{m}-debug") for m in DEBUG_MODES]
           + [pytest.param(m, "release", {"HAKMEM_INTEGRITY_CHECKS": "1"}, id=f"{m}-release-checks")
              for m in INTEGRITY_MODES])


@pytest.mark.parametrize("mode,variant,env", CONFIGS)
@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_error_is_reported_then_abort(kind, mode, variant, env):
    res = diagbuild.run_preloaded("integrity_errors", mode, variant, [kind], env, timeout=60)
    lines = diagbuild.hakmem_lines(res.stderr)
    assert res.returncode == -signal.SIGABRT, res.describe()
    assert "start" in res.stdout and "end" not in res.stdout, res.describe()
    assert len(lines) == 1, res.stderr
    assert re.search(ERRORS[kind], lines[0]), lines[0]


@pytest.mark.parametrize("mode,variant,env", CONFIGS)
def test_correct_program_runs_clean(mode, variant, env):
    res = diagbuild.run_preloaded("integrity_errors", mode, variant, ["ok"], env, timeout=60)
    assert res.returncode == 0 and "end" in res.stdout, res.describe()
    assert not diagbuild.hakmem_lines(res.stderr), res.stderr


@pytest.mark.parametrize("mode,variant,env", CONFIGS)
def test_usable_size_is_the_requested_size(mode, variant, env):
    res = diagbuild.run_preloaded("integrity_errors", mode, variant, ["usable"], env, timeout=60)
    assert res.returncode == 0 and "usable 40" in res.stdout, res.describe()


@pytest.mark.parametrize("mode", INTEGRITY_MODES)
def test_checks_off_by_default_in_release(mode):
    """Without the variable, a release build keeps its fast paths (usable size is the class size)."""
    env = {"HAKMEM_INTEGRITY_CHECKS": "0"}
    res = diagbuild.run_preloaded("integrity_errors", mode, "release", ["usable"], env, timeout=60)
    assert res.returncode == 0, res.describe()
    assert "usable 48" in res.stdout, res.stdout


ASAN_MODES = [m for m in ("minimal", "balanced") if m in cbuild.MODES]


@pytest.mark.asan
@pytest.mark.parametrize("mode", ASAN_MODES)
@pytest.mark.parametrize("kind", ["write", "read"])
def test_asan_catches_use_after_free(mode, kind):
    exe = diagbuild.compile_driver("asan_uaf", mode, "asan")
    env = diagbuild.clean_env({"ASAN_OPTIONS": cbuild.ASAN_OPTIONS})
    res = diagbuild.run([str(exe), kind], env, 120)
    assert res.returncode != 0, res.describe()
    assert "ERROR: AddressSanitizer: use-after-poison" in res.stderr, res.stderr[-3000:]
    assert "asan_uaf.c" in res.stderr, res.stderr[-3000:]
    assert "end" not in res.stderr.splitlines()


@pytest.mark.asan
@pytest.mark.parametrize("mode", ASAN_MODES)
def test_asan_double_free_reported(mode):
    exe = diagbuild.compile_driver("asan_uaf", mode, "asan")
    res = diagbuild.run([str(exe), "double"], diagbuild.clean_env({"ASAN_OPTIONS": cbuild.ASAN_OPTIONS}), 120)
    assert res.returncode != 0, res.describe()
    assert re.search(r"hakmem: free\(\): double free of 0x[0-9a-f]+", res.stderr), res.stderr[-3000:]


@pytest.mark.asan
@pytest.mark.parametrize("mode", ASAN_MODES)
def test_asan_clean_program(mode):
    exe = diagbuild.compile_driver("asan_uaf", mode, "asan")
    res = diagbuild.run([str(exe), "ok"], diagbuild.clean_env({"ASAN_OPTIONS": cbuild.ASAN_OPTIONS}), 120)
    assert res.returncode == 0, res.describe()
    assert "AddressSanitizer" not in res.stderr


@pytest.mark.asan
@pytest.mark.parametrize("mode", [m for m in ASAN_MODES if m in INTEGRITY_MODES])
def test_asan_with_integrity_catches_overflow_at_once(mode):
    """With integrity checks, the asan variant poisons the canary after the requested size."""
    exe = diagbuild.compile_driver("asan_uaf", mode, "asan")
    env = diagbuild.clean_env({"ASAN_OPTIONS": cbuild.ASAN_OPTIONS, "HAKMEM_INTEGRITY_CHECKS": "1"})
    res = diagbuild.run([str(exe), "overflow"], env, 120)
    assert res.returncode != 0, res.describe()
    assert "ERROR: AddressSanitizer: use-after-poison" in res.stderr, res.stderr[-3000:]
    assert "asan_uaf.c" in res.stderr
