"""Learning: decision rules on synthetic inputs, stability under threads (TSan), visible adaptation.

* The decision rules of every learner (grow, shrink, hold, dwell, adopt, reject, ELO convergence and
  the LEARN -> FROZEN -> CANARY lifecycle) run in tests/learn/c/decide.c without the allocator.
* The learning mode and the adaptive and tight profiles run the multi-threaded stress
  (tests/core/c/stress_mt.c) and 16-thread larson-style and phase-shift workloads against the
  tsan variant: clean and to completion.
* The release .so under LD_PRELOAD gives the same checksums as glibc with learning on, logs its
  adaptation, and shows the learners' state in the statistics.
* Where learning cannot help it stands still: producer/consumer threads report it and change nothing,
  and large-block strategy trials cost no memory.
"""
from __future__ import annotations

import json
import subprocess

import pytest

import learnutil as u

GROUPS = ["size", "cap", "mem", "wmax", "elo"]

# (name, environment): the learning mode's own defaults, then the two learning profiles.
CONFIGS = {
    "learning": {"HAKMEM_MODE": "learning"},
    "adaptive": u.profile_env("adaptive"),
    "tight": u.profile_env("tight"),
}
# Short windows so every learner acts within a test-sized run.
FAST_WINDOWS = {"HAKMEM_LEARN_WINDOW_MS": "500", "HAKMEM_LEARN_MIN_SAMPLES": "64", "HAKMEM_CAP_DWELL_SEC_MID": "1",
                "HAKMEM_MEM_LEARN_WINDOW": "2000"}


@pytest.fixture(scope="module")
def decide():
    return u.decide_driver()


@pytest.mark.parametrize("group", GROUPS)
def test_decision_rules(decide, group):
    res = u.run([decide, group], u.clean_env(), 60)
    lines = res.stdout.splitlines()
    fails = [l for l in lines if l.startswith("FAIL ")]
    assert res.returncode == 0 and not fails and any(l.startswith("summary ") for l in lines), \
        res.describe() + "\n" + "\n".join(fails)
    assert sum(l.startswith("ok ") for l in lines) >= 5


def test_decision_rules_cover_every_outcome(decide):
    """The driver names each outcome the issue asks for: grow, shrink, hold, dwell, adopt, reject."""
    out = u.run([decide], u.clean_env(), 60).stdout
    for word in ("grow", "shrink", "hold", "dwell", "adopt", "reject", "converges", "canary"):
        assert any(word in l for l in out.splitlines() if l.startswith("ok ")), word


def _symbols(mode: str) -> set[str]:
    so = u.support.so_path(mode, "release")
    if not so.exists():
        pytest.skip(f"{so} is not built")
    out = subprocess.run(["nm", str(so)], capture_output=True, text=True).stdout
    return {l.split()[-1] for l in out.splitlines() if l.strip()}


@pytest.mark.parametrize("mode", u.support.MODES)
def test_learners_compiled_only_with_their_feature(built, mode):
    feats = u.loader.resolve_mode(mode).features
    syms = _symbols(mode)
    assert ("hak_learn_on_refill" in syms) == bool(feats.get("alloc_learn") or feats.get("cap_learn")
                                                    or feats.get("mem_learn"))
    assert ("hak_learn_cap_decide" in syms) == bool(feats.get("cap_learn"))
    assert ("hak_learn_wmax_step" in syms) == bool(feats.get("mem_learn"))
    assert ("hak_elo_result" in syms) == bool(feats.get("elo"))
    if not any(feats.get(f) for f in ("alloc_learn", "cap_learn", "mem_learn", "elo")):
        assert not [s for s in syms if s.startswith(("hak_learn_", "hak_elo_"))]


# ---------------------------------------------------------------- TSan: stable under many threads

TSAN_RUNS = {
    "stress_mt": ["16", "2", "2500"],                      # threads rounds ops/thread/round
    "larson": ["16", "16", "1024", "2", "6000", "200", "42"],   # 16 threads
    "phase_shift": ["4", "160000", "16", "4", "256", "42"],     # size mix and thread count shift
}


@pytest.mark.tsan
@pytest.mark.slow
@pytest.mark.parametrize("program", list(TSAN_RUNS))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_tsan_clean(built, config, program):
    mode = "learning"
    so = u.support.so_path(mode, "tsan")
    if not so.exists():
        pytest.skip(f"{so} is not built")
    exe = u.tsan_driver(program, mode)
    env = u.clean_env({**CONFIGS[config], **FAST_WINDOWS, "TSAN_OPTIONS": u.TSAN_OPTIONS,
                       "HAKMEM_ADAPTIVE_LOG": "1"})
    res = u.run([exe, *TSAN_RUNS[program]], env, 600)
    note = f"[{config}] "
    assert not res.timed_out and res.returncode == 0, res.describe(note)
    assert "WARNING: ThreadSanitizer" not in res.stderr, res.describe(note)
    if program == "stress_mt":
        assert "summary " in res.stdout and "failures=0" in res.stdout, res.describe(note)
    else:
        assert res.result_line().get("ops"), res.describe(note)


# ---------------------------------------------------------------- release: same answers, visible adaptation

@pytest.fixture(scope="module")
def glibc_larson():
    exe = u.bench_program("larson")
    res = u.run([exe, "16", "16", "1024", "3", "40000", "500", "42"], u.clean_env(), 300)
    assert res.returncode == 0, res.describe()
    return res.result_line()["checksum"]


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS) + ["research"])
def test_larson_16_threads_release(built, glibc_larson, config):
    mode = "research" if config == "research" else "learning"
    env = dict(CONFIGS.get(config, {"HAKMEM_MODE": "research", "HAKMEM_DEBUG_LEVEL": "0"}))
    env["LD_PRELOAD"] = str(u.support.so_path(mode, "release"))
    exe = u.bench_program("larson")
    res = u.run([exe, "16", "16", "1024", "3", "40000", "500", "42"], u.clean_env(env), 300)
    assert res.returncode == 0 and not res.timed_out, res.describe(f"[{config}] ")
    assert res.result_line()["checksum"] == glibc_larson


def test_phase_shift_adaptation_is_logged(built, tmp_path):
    """Learner logs show the caches growing in the burst phases and shrinking after the shift, the CAP
    learner stepping the MID caps, and the learner state reaches the statistics."""
    exe = u.bench_program("phase_shift")
    glibc = u.run([exe, "4", "1000000"], u.clean_env(), 300)
    stats = tmp_path / "stats.json"
    env = u.clean_env({"LD_PRELOAD": str(u.support.so_path("learning", "release")), "HAKMEM_MODE": "learning",
                       "HAKMEM_ADAPTIVE_LOG": "1", "HAKMEM_STATS_FILE": str(stats), **FAST_WINDOWS})
    res = u.run([exe, "4", "1000000"], env, 300)
    assert res.returncode == 0, res.describe()
    assert res.result_line()["checksum"] == glibc.result_line()["checksum"]
    err = res.stderr
    assert "[ADAPTIVE] Adaptive sizing initialized (initial_cap=64, min=16, max=2048)" in err
    assert "[TLS_CACHE] Grow class" in err and "\u2192" in err
    data = json.loads(stats.read_text())
    learn = data["learning"]
    assert learn["alloc_learn"]["grows"] > 0
    assert any(c["cap"] >= 512 for c in learn["alloc_learn"]["classes"])
    assert {"target_hit", "windows", "mid_hit_rate", "classes"} <= set(learn["cap_learn"])   # its steps: see below
    assert learn["mem_learn"]["enabled"] and learn["mem_learn"]["windows"] >= 1
    assert learn["elo"]["phase"] in ("learn", "frozen", "canary")
    assert learn["standstill"]["threads"] == 0      # its traffic is local: it learns, it does not stand still


def test_adaptive_sizing_grows_and_shrinks_at_run_time(built):
    """Bursts deeper than the cache double it step by step to 1024 slots; left idle with a few blocks
    while another class churns, it halves again; no cached block is lost or duplicated on the way."""
    exe = u.plain_driver("resize")
    env = u.clean_env({"LD_PRELOAD": str(u.support.so_path("learning", "release")), "HAKMEM_MODE": "learning",
                       "HAKMEM_ADAPTIVE_LOG": "1", "HAKMEM_ALLOC_LEARN_WINDOW": "200"})
    res = u.run([exe], env, 120)
    assert res.returncode == 0 and "ok resize.tags" in res.stdout, res.describe()
    grows = [l.split(": ")[2].split(" slots")[0].split(" \u2192 ") for l in res.stderr.splitlines()
             if "[TLS_CACHE] Grow class 3:" in l]
    steps = [(int(a), int(b)) for a, b in grows]
    first_up = steps[:[b for _, b in steps].index(1024) + 1]            # up to the first 1024
    assert first_up and all(b == 2 * a for a, b in first_up), res.stderr   # doubling, step by step
    assert "[TLS_CACHE] Shrink class 3: 1024 \u2192 512 slots (shrink_count=1)" in res.stderr, res.stderr


def test_cap_learner_steps_mid_caps(built, tmp_path):
    """A MID-tier churn (8-32 KiB) with a hit rate far above the 0.65 target: the CAP learner steps
    the MID caps down, logs each step and reports the tier's hit rate."""
    exe = u.bench_program("mid_large")
    stats = tmp_path / "stats.json"
    env = u.clean_env({"LD_PRELOAD": str(u.support.so_path("learning", "release")), "HAKMEM_MODE": "learning",
                       "HAKMEM_ADAPTIVE_LOG": "1", "HAKMEM_STATS_FILE": str(stats), **FAST_WINDOWS})
    # ~2 s on an idle machine, longer under load: at least two CAP windows of 500 ms either way
    res = u.run([exe, "100000000", "8192", "32768", "42", "512"], env, 300)
    assert res.returncode == 0, res.describe()
    assert "[CAP_LEARN] Shrink class" in res.stderr, res.describe()
    cap = json.loads(stats.read_text())["learning"]["cap_learn"]
    assert cap["windows"] >= 1 and cap["mid_hit_rate"] > 0.68
    assert any(c["steps"] > 0 and c["cap"] < 32 for c in cap["classes"])


def test_learning_off_leaves_caches_alone(built):
    exe = u.bench_program("phase_shift")
    env = u.clean_env({"LD_PRELOAD": str(u.support.so_path("learning", "release")), "HAKMEM_MODE": "learning",
                       "HAKMEM_ALLOC_LEARN": "0", "HAKMEM_MEM_LEARN": "0", "HAKMEM_ADAPTIVE_LOG": "1"})
    res = u.run([exe, "2", "400000"], env, 300)
    assert res.returncode == 0, res.describe()
    assert "[TLS_CACHE]" not in res.stderr and "[CAP_LEARN]" not in res.stderr and "[MEM_LEARN]" not in res.stderr


def test_tight_profile_keeps_its_caps(built):
    """tight.env turns adaptive sizing off: its 32-slot TINY caches are never grown."""
    exe = u.bench_program("phase_shift")
    env = u.clean_env({**CONFIGS["tight"], "LD_PRELOAD": str(u.support.so_path("learning", "release")),
                       "HAKMEM_ADAPTIVE_LOG": "1"})
    res = u.run([exe, "2", "400000"], env, 300)
    assert res.returncode == 0, res.describe()
    assert "[TLS_CACHE] Grow" not in res.stderr


# ---------------------------------------------------------------- standing still where learning cannot help

def test_producer_consumer_traffic_stands_still(built, tmp_path):
    """Producer/consumer pairs: every block crosses threads. Each thread notices, stands still and
    says so in the statistics; no cache is grown, and the learners never log a change."""
    exe = u.bench_program("prodcons")
    stats = tmp_path / "stats.json"
    env = u.clean_env({"LD_PRELOAD": str(u.support.so_path("learning", "release")), "HAKMEM_MODE": "learning",
                       "HAKMEM_ADAPTIVE_LOG": "1", "HAKMEM_STATS_FILE": str(stats)})
    res = u.run([exe, "400000", "4", "512", "42"], env, 300)
    assert res.returncode == 0, res.describe()
    learn = json.loads(stats.read_text())["learning"]
    still = learn["standstill"]
    assert still["threads"] >= 2 and still["cross_thread_looks"] * 2 > still["looks"], still
    assert learn["alloc_learn"]["grows"] == 0 and learn["alloc_learn"]["shrinks"] == 0, learn["alloc_learn"]
    assert "[TLS_CACHE] Grow" not in res.stderr and "[TLS_CACHE] Shrink" not in res.stderr


def test_large_block_trials_cost_no_memory(built, tmp_path):
    """Large-block churn the default strategy already serves well: the ELO selector trials the other
    strategies on previews only, so the learning mode's peak RSS is balanced's; the canaries find no
    gain and it settles on best_fit for good."""
    exe = u.bench_program("large")
    args = [exe, "100000", "65536", "1048576", "42", "64", "10000"]
    peak = {}
    for mode in ("balanced", "learning"):
        stats = tmp_path / f"{mode}.json"
        env = u.clean_env({"LD_PRELOAD": str(u.support.so_path(mode, "release")), "HAKMEM_MODE": mode,
                           "HAKMEM_STATS_FILE": str(stats)})
        res = u.run(args, env, 300)
        assert res.returncode == 0, res.describe()
        peak[mode] = int(res.result_line()["peak_rss_kib"])
    assert peak["learning"] <= peak["balanced"] * 1.02 + 512, peak
    elo = json.loads((tmp_path / "learning.json").read_text())["learning"]["elo"]
    assert elo["settled"] and elo["champion"] == "best_fit" and elo["switches"] == 0, elo
    assert elo["canaries"] == 2, elo


# ---------------------------------------------------------------- large blocks: ELO and W_MAX through BigCache

@pytest.mark.slow
def test_elo_and_wmax_steer_the_large_block_cache(built, tmp_path):
    """Large-block churn: the ELO selector leaves LEARN for FROZEN within its bounded budget and runs
    canaries; W_MAX canary trials run and end in adopt or reject; both show in the statistics."""
    exe = u.bench_program("large")
    stats = tmp_path / "stats.json"
    env = u.clean_env({"LD_PRELOAD": str(u.support.so_path("learning", "release")), "HAKMEM_MODE": "learning",
                       "HAKMEM_ADAPTIVE_LOG": "1", "HAKMEM_STATS_FILE": str(stats), "HAKMEM_WMAX_LEARN": "1",
                       "HAKMEM_WMAX_TRIAL_SEC": "3"})
    res = u.run([exe, "100000000", "65536", "1048576", "42", "64", "7500"], env, 300)
    assert res.returncode == 0, res.describe()
    frozen = [l for l in res.stderr.splitlines() if "[ELO] learn -> frozen after" in l]
    assert frozen, res.describe()
    plays = int(frozen[0].split("after ")[1].split()[0])
    assert plays <= 1024
    assert "[WMAX] Trial" in res.stderr
    assert "[WMAX] Adopt" in res.stderr or "[WMAX] Reject" in res.stderr
    learn = json.loads(stats.read_text())["learning"]
    elo = learn["elo"]
    assert elo["freezes"] >= 1 and elo["phase"] in ("frozen", "canary") and elo["plays"] > plays
    assert {s["name"] for s in elo["strategies"]} == {"best_fit", "exact", "largest_fit"}
    assert learn["mem_learn"]["wmax_trials"] >= 1 and learn["mem_learn"]["wmax"] >= 1.0


def test_balanced_keeps_its_frozen_strategy(built, tmp_path):
    """balanced compiles ELO in, frozen at start-up: a fixed choice, never re-tested, no learning."""
    exe = u.bench_program("large")
    stats = tmp_path / "stats.json"
    env = u.clean_env({"LD_PRELOAD": str(u.support.so_path("balanced", "release")),
                       "HAKMEM_STATS_FILE": str(stats), "HAKMEM_ADAPTIVE_LOG": "1"})
    res = u.run([exe, "20000", "65536", "1048576", "42", "64", "3000"], env, 300)
    assert res.returncode == 0, res.describe()
    assert "[ELO]" not in res.stderr
    elo = json.loads(stats.read_text())["learning"]["elo"]
    assert elo["phase"] == "frozen" and elo["champion"] == "best_fit" and elo["canaries"] == 0
