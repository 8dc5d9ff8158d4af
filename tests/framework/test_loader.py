"""hakmem.loader and hakmem.values: the API other parts rely on, and the seeds' knobs."""
from __future__ import annotations

import pytest

from hakmem import loader, values
from hakmem.schema import ConfigError

# Every HAKMEM_* variable the seed documents name (configuration guide, profiles,
# mode plan, quick references). Each must be a knob or a deprecated alias.
SEED_VARIABLES = """
HAKMEM_MODE HAKMEM_WRAP_TINY HAKMEM_WRAP_POOL HAKMEM_WRAP_MID HAKMEM_WRAP_LARGE
HAKMEM_DEBUG_LEVEL HAKMEM_DEBUG_TINY HAKMEM_TRACE_ALLOCATIONS HAKMEM_INTEGRITY_CHECKS
HAKMEM_SUPERSLAB_REUSE HAKMEM_SUPERSLAB_LAZY HAKMEM_SUPERSLAB_PREWARM HAKMEM_SUPERSLAB_LRU_CAP
HAKMEM_SUPERSLAB_SOFT_CAP HAKMEM_ALLOC_LEARN HAKMEM_ALLOC_LEARN_WINDOW HAKMEM_ALLOC_LEARN_RATE
HAKMEM_MEM_LEARN HAKMEM_MEM_LEARN_WINDOW HAKMEM_MEM_LEARN_THRESHOLD HAKMEM_LEARN_ADVANCED
HAKMEM_LEARN_DECAY HAKMEM_TINY_TLS_CAP HAKMEM_TINY_TLS_REFILL HAKMEM_TINY_DRAIN_THRESH
HAKMEM_TINY_SFC_ENABLE HAKMEM_TINY_SFC_CAPACITY HAKMEM_TINY_SFC_HOT_CLASSES HAKMEM_TINY_P0_ENABLE
HAKMEM_TINY_P0_BATCH HAKMEM_TINY_P0_NO_DRAIN HAKMEM_TINY_P0_LOG HAKMEM_TINY_HEADER_CLASSIDX
HAKMEM_POOL_TLS_ARENA_MB_INIT HAKMEM_POOL_TLS_ARENA_MB_MAX HAKMEM_POOL_TLS_ARENA_GROWTH_LEVELS
HAKMEM_STATS_ENABLE HAKMEM_STATS_VERBOSE HAKMEM_STATS_INTERVAL_SEC HAKMEM_PROFILE_SYSCALLS
HAKMEM_EXPERIMENTAL_ADAPTIVE_DRAIN HAKMEM_EXPERIMENTAL_CACHE_TUNING HAKMEM_TINY_TLS_CLASS_OVERRIDE
HAKMEM_STATS HAKMEM_STATS_DUMP HAKMEM_FREE_POLICY HAKMEM_THP HAKMEM_EVO_POLICY
HAKMEM_POOL_REFILL_BATCH HAKMEM_LEARN HAKMEM_TARGET_HIT_MID HAKMEM_CAP_STEP_MID HAKMEM_CAP_MIN_MID
HAKMEM_CAP_MAX_MID HAKMEM_CAP_DWELL_SEC_MID HAKMEM_LEARN_WINDOW_MS HAKMEM_LEARN_MIN_SAMPLES
HAKMEM_WMAX_LEARN HAKMEM_WMAX_CANDIDATES_MID HAKMEM_WMAX_CANARY HAKMEM_WMAX_TRIAL_SEC
HAKMEM_WMAX_ADOPT_PCT HAKMEM_ADAPTIVE_SIZING HAKMEM_ADAPTIVE_LOG
""".split()

# Legacy names the seeds say were replaced.
LEGACY = {"HAKMEM_LEARN": "HAKMEM_ALLOC_LEARN"}


def test_every_seed_variable_is_declared():
    opts = loader.load_options()
    missing = [v for v in SEED_VARIABLES if opts.by_env(v) is None]
    assert not missing


def test_legacy_names_are_aliases_with_sunset():
    opts = loader.load_options()
    for old, new in LEGACY.items():
        opt = opts.by_env(old)
        assert opt.env == new
        alias = next(a for a in opt.aliases if a.env == old)
        assert alias.sunset == "2026-05-26"


def test_option_shape():
    opts = loader.load_options()
    o = opts.option("tiny_tls_cap")
    assert (o.key, o.env, o.type, o.feature, o.default, o.min, o.max) == \
        ("tiny_tls_cap", "HAKMEM_TINY_TLS_CAP", "int", "core", 64, 16, 1024)
    assert all(o.key == o.env[len("HAKMEM_"):].lower() for o in opts.options)
    assert all(o.feature in opts.features for o in opts.options)
    assert "core" in opts.features


def test_mode_names_and_default():
    assert loader.mode_names() == ["minimal", "fast", "balanced", "learning", "research", "hardened"]
    assert loader.default_mode() == "balanced"


def test_feature_matrix():
    r = {m: loader.resolve_mode(m) for m in loader.mode_names()}
    on = {m: set(x.enabled_features) for m, x in r.items()}
    assert on["minimal"] == {"core"}
    assert on["fast"] >= {"sfc", "p0_batch", "superslab_cache", "pool_arena", "bigcache",
                          "batch_madvise", "thp"}
    assert not on["fast"] & {"alloc_learn", "cap_learn", "mem_learn", "elo", "stats"}
    assert on["balanced"] == on["fast"] | {"elo", "stats", "integrity"}
    assert on["learning"] == on["balanced"] | {"alloc_learn", "cap_learn", "mem_learn"}
    hardening = {"encoded_links", "guard_pages", "shuffle", "free_check", "overflow_check", "quarantine", "poison", "zero_fault", "nx_heap"}
    assert on["research"] == set(loader.load_options().features) - hardening
    assert on["hardened"] == (on["fast"] - {"bigcache", "thp"}) | {"stats"} | hardening


def test_resolved_values():
    r = {m: loader.resolve_mode(m) for m in loader.mode_names()}
    for name, res in r.items():
        assert res.name == name and res.values["mode"] == name
        assert set(res.values) == {o.key for o in loader.load_options().options}
        assert set(res.features) == set(loader.load_options().features)
    assert r["minimal"].values["thp"] == "off"
    assert r["fast"].values["thp"] == "auto" and r["research"].values["thp"] == "on"
    assert r["balanced"].values["elo_phase"] == "frozen"
    assert r["learning"].values["elo_phase"] == "learn"
    assert r["balanced"].values["integrity_checks"] is False
    assert r["learning"].values["integrity_checks"] is False
    assert r["research"].values["debug_level"] == 1
    assert r["fast"].option("thp").choices == ["off", "auto", "on"]


def test_variants():
    vs = loader.load_variants()
    assert list(vs) == ["release", "debug", "asan", "tsan"]
    assert [v.interpose for v in vs.values()] == [True, True, False, False]
    for name, v in vs.items():
        assert v.defines["HAK_VARIANT_NAME"] == f'"{name}"'
        assert v.defines["HAK_INTERPOSE"] == int(v.interpose)
        assert {"-std=gnu11", "-Wall", "-Wextra", "-pthread"} <= set(v.cflags)
        assert v.linkflags[:3] == ["-shared", "-pthread", "-ldl"]
    assert "-fvisibility=hidden" in vs["release"].cflags and "-DNDEBUG" in vs["release"].cflags
    assert vs["debug"].defines["HAK_DEBUG"] == 1
    assert vs["asan"].defines["HAK_SANITIZER_ADDRESS"] == 1 and "-fsanitize=address" in vs["asan"].linkflags
    assert vs["tsan"].defines["HAK_SANITIZER_THREAD"] == 1 and "-fsanitize=thread" in vs["tsan"].linkflags


def test_unknown_mode_and_variant():
    with pytest.raises(ConfigError) as e:
        loader.load_mode("balnced")
    assert "did you mean 'balanced'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        loader.load_variant("relase")
    assert str(e.value).startswith("modes/variants.yaml: relase: unknown variant")


# ----------------------------------------------------------------------- values

def opt(key):
    return loader.load_options().option(key)


@pytest.mark.parametrize("text,value", [("1", True), ("true", True), ("ON", True), ("yes", True),
                                        ("0", False), ("False", False), ("off", False), ("No", False)])
def test_parse_bool(text, value):
    assert values.parse_value(opt("wrap_tiny"), text) is value


@pytest.mark.parametrize("text,value", [("32M", 32 << 20), ("32768", 32768), ("1g", 1 << 30),
                                        ("64K", 64 << 10)])
def test_parse_size(text, value):
    assert values.parse_value(opt("bigcache_max_block"), text) == value


@pytest.mark.parametrize("key,text,reason", [
    ("wrap_tiny", "maybe", "not a boolean"),
    ("tiny_tls_cap", "2048", "out of range [16, 1024]"),
    ("tiny_tls_cap", "12x", "not an integer"),
    ("bigcache_max_block", "2T", "not a size"),
    ("bigcache_max_block", "4G", "out of range [32K, 1G]"),
    ("alloc_learn_rate", "1.5", "out of range"),
    ("alloc_learn_rate", "nan", "not a number"),
    ("thp", "always", "not one of off, auto, on"),
    ("tiny_tls_class_override", "C9:64:16", "class 9 is out of range"),
    ("tiny_tls_class_override", "C0:64:128", "refill 128 exceeds cap 64"),
    ("tiny_tls_class_override", "C0:64:16,C0:32:8", "given twice"),
    ("tiny_tls_class_override", "0-64-16", "not class:cap:refill"),
    ("wmax_candidates_mid", "1.4,,1.6", "not a comma-separated list"),
    ("wmax_candidates_mid", "1.4,9", "out of range"),
    ("stats_file", "x" * 300, "longer than"),
])
def test_parse_errors(key, text, reason):
    with pytest.raises(ValueError) as e:
        values.parse_value(opt(key), text)
    assert reason in str(e.value)


def test_parse_lists_and_choices():
    assert values.parse_value(opt("thp"), "AUTO") == "auto"
    assert values.parse_value(opt("tiny_tls_class_override"), " c0:256:16 , C1:256:16") == "C0:256:16,C1:256:16"
    assert values.parse_value(opt("tiny_tls_class_override"), "") == ""
    assert values.parse_value(opt("wmax_candidates_mid"), "1.4, 1.5") == "1.4,1.5"
    assert values.parse_value(opt("alloc_learn_rate"), "0.05") == 0.05
    assert values.parse_value(opt("stats_file"), "/tmp/s.json") == "/tmp/s.json"


@pytest.mark.parametrize("mode", loader.mode_names())
def test_format_round_trip(mode):
    res = loader.resolve_mode(mode)
    for o in res.options.options:
        v = res.values[o.key]
        assert values.parse_value(o, values.format_value(o, v)) == v
