"""Logging: hakmem's allocation-free formatter agrees with snprintf, messages are written from signal
handlers without deadlock, and HAKMEM_DEBUG_LEVEL controls the informational messages."""
from __future__ import annotations

import subprocess

import cbuild
import diagbuild

ROOT = diagbuild.ROOT


def test_formatter_and_signal_safety(tmp_path):
    exe = tmp_path / "log_format"
    cmd = ["gcc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wno-format", f"-I{ROOT / 'src'}",
           f"-I{ROOT / 'generated' / 'balanced'}", str(diagbuild.CDIR / "log_format.c"), str(ROOT / "src" / "log.c"),
           "-o", str(exe)]
    cbuild.require_so("balanced", "release")          # generated/balanced exists once the build ran
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    res = diagbuild.run([str(exe)], diagbuild.clean_env(), 60)
    assert res.returncode == 0, res.stdout
    assert "summary failures=0" in res.stdout
    handler_lines = [l for l in res.stderr.splitlines()
                     if l == "hakmem: from a signal handler 42 ok 0x1234"]
    assert handler_lines, res.stderr[-500:]


def test_debug_level_info_messages(tmp_path):
    mode = next((m for m in cbuild.MODES if diagbuild.features(m).get("trace")), None)
    if mode is None:
        import pytest
        pytest.skip("no mode with tracing")
    env = {"HAKMEM_TRACE_ALLOCATIONS": "1", "HAKMEM_TRACE_FILE": str(tmp_path / "t.trace"),
           "HAKMEM_STATS_ENABLE": "0"}
    quiet = diagbuild.run_preloaded("workload", mode, "release", ["1", "2"], {**env, "HAKMEM_DEBUG_LEVEL": "1"})
    loud = diagbuild.run_preloaded("workload", mode, "release", ["1", "2"], {**env, "HAKMEM_DEBUG_LEVEL": "2"})
    assert quiet.returncode == 0 and loud.returncode == 0
    assert not any("tracing every allocation" in l for l in diagbuild.hakmem_lines(quiet.stderr))
    assert any("tracing every allocation" in l for l in diagbuild.hakmem_lines(loud.stderr)), loud.stderr
