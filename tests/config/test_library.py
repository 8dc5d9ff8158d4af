"""The configuration as the built libraries see it: `hakmem config` (hak_config_dump through
ctypes in a preloaded child), `hakmem run`, the per-knob acceptance test generated from
options.yaml, and the profiles running a threaded workload."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from cfgutil import HERE, ROOT, hakmem_cli
from cfgutil import expected_json, other_value
from hakmem import envcheck, loader

MODES = loader.mode_names()
PROFILES = sorted((ROOT / "profiles").glob("*.env"))


def config_json(mode: str, env: dict[str, str], variant: str = "release"):
    p = hakmem_cli("config", "--json", "--clean", "--no-build", "--mode", mode, "--variant", variant,
                   *[f"{k}={v}" for k, v in env.items()])
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), [ln for ln in p.stderr.splitlines() if ln.startswith("hakmem: ")]


@pytest.mark.parametrize("mode", MODES)
def test_config_reports_the_library_defaults(built, mode):
    cfg, lines = config_json(mode, {})
    assert [ln for ln in lines if ln.startswith("hakmem: HAKMEM_")] == []
    r = loader.resolve_mode(mode)
    assert cfg["mode"] == mode and cfg["variant"] == "release"
    assert cfg["features"] == r.features
    assert all(e["source"] == "default" for e in cfg["options"].values())


@pytest.mark.parametrize("mode", MODES)
def test_every_knob_is_accepted_by_the_library_compiling_its_feature(built, mode):
    """Generated from options.yaml: each knob of a feature this .so has, set to a valid
    non-default value, shows source "env" — in the JSON dump and in the HAKMEM_DEBUG_LEVEL=2
    table the library prints itself."""
    modes = loader.resolve_all()
    r = modes[mode]
    knobs = [o for o in r.options.options if r.features[o.feature] and not o.preset
             and o.key != "debug_level"]
    env = {o.env: other_value(o, r, modes) for o in knobs}
    # these change what the process does at exit or where it writes; keep the run quiet
    env.update({k: v for k, v in {"HAKMEM_STATS_FILE": "", "HAKMEM_TRACE_ALLOCATIONS": "off"}.items()
                if k in env})
    env["HAKMEM_DEBUG_LEVEL"] = "2"
    cfg, lines = config_json(mode, env)
    # configuration complaints all start with the variable's name
    problems = [ln for ln in lines if ln.startswith(("hakmem: HAKMEM_", "hakmem: secure"))]
    assert problems == []
    table = "\n".join(lines)
    for o in knobs:
        entry = cfg["options"][o.key]
        assert entry["source"] == "env", o.env
        want = expected_json(o, env[o.env])
        assert entry["value"] == (want.lower() if o.type == "choice" else want), o.env
        assert re.search(rf"^hakmem:   {o.env}\s+= .*\senv$", table, re.M), o.env


def test_config_text_and_messages(built):
    p = hakmem_cli("config", "--clean", "--no-build", "--mode", "fast", "HAKMEM_TINY_TLS_CAP=32",
                   "HAKMEM_ALLOC_LEARN=1")
    assert p.returncode == 0
    assert re.search(r"^  HAKMEM_TINY_TLS_CAP\s+= 32\s+env$", p.stdout, re.M)
    assert ("hakmem: HAKMEM_ALLOC_LEARN: feature alloc_learn is not compiled into this library "
            "(mode fast); value ignored; use out/learning/release/libhakmem.so") in p.stderr


def test_config_rejects_a_bad_assignment(built):
    p = hakmem_cli("config", "--no-build", "NOT AN ASSIGNMENT")
    assert p.returncode == 2


def test_run_passes_the_exit_status_and_preloads(built):
    p = hakmem_cli("run", "--mode", "fast", "--no-build", "--", "sh", "-c", 'echo "$LD_PRELOAD"; exit 7')
    assert p.returncode == 7
    assert p.stdout.strip().split(":")[0] == str(ROOT / "out" / "fast" / "release" / "libhakmem.so")
    p = hakmem_cli("run", "--no-build", "--", "true")
    assert p.returncode == 0
    p = hakmem_cli("run", "--no-build", "--", "/nonexistent/program")
    assert p.returncode == 127


def test_run_usage_errors():
    assert hakmem_cli("run").returncode == 2
    assert hakmem_cli("run", "--mode", "turbo", "--", "true").returncode == 2
    assert hakmem_cli("run", "--variant", "asan", "--", "true").returncode == 2


# --------------------------------------------------------------------------- profiles at work

@pytest.fixture(scope="module")
def larson_mini(tmp_path_factory):
    cc = shutil.which("cc") or "cc"
    exe = tmp_path_factory.mktemp("larson") / "larson_mini"
    subprocess.run([cc, "-O2", "-pthread", str(HERE / "c" / "larson_mini.c"), "-o", str(exe)],
                   check=True)
    return exe


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
def test_profile_runs_a_threaded_workload(built, larson_mini, profile):
    parsed = envcheck.read_env_file(profile)
    mode = parsed.mode or loader.default_mode()
    env = {e.name: e.value for e in parsed.entries}
    env.setdefault("HAKMEM_DEBUG_LEVEL", "0")
    p = hakmem_cli("run", "--mode", mode, "--no-build", "--", str(larson_mini), "8", "2000",
                   env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "larson_mini: ok" in p.stdout
    assert [ln for ln in p.stderr.splitlines() if ln.startswith("hakmem: HAKMEM_")] == [], \
        "a profile used with its build draws no configuration message"


def test_config_of_a_profile(built):
    p = hakmem_cli("config", "--json", "--clean", "--no-build",
                   "--env-file", str(ROOT / "profiles" / "tight.env"),
                   "--env-file", str(ROOT / "profiles" / "tiny-balanced.env"))
    assert p.returncode == 0, p.stderr
    cfg = json.loads(p.stdout)
    assert cfg["mode"] == "learning"                    # from tight.env's # hakmem-mode:
    assert cfg["options"]["tiny_tls_class_override"]["value"] == "C0:256:16,C1:256:16,C2:256:16,C3:192:12"
    assert cfg["options"]["mem_learn_threshold"]["value"] == 0.9
    assert [ln for ln in p.stderr.splitlines() if ln.startswith("hakmem: HAKMEM_")] == []
    p = hakmem_cli("config", "--no-build", "--env-file", "/nonexistent.env")
    assert p.returncode == 2 and "cannot read" in p.stderr
