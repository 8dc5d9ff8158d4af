"""src/config without the allocator: the test driver (tests/config/c/driver.c) compiled with
a rendered option table, run under controlled environments."""
from __future__ import annotations

import json
import re

import pytest

from hakmem import envcheck, values
from cfgutil import expected_json, other_value

# ---------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("mode", ["minimal", "fast", "balanced", "learning", "research"])
def test_no_environment_gives_the_compiled_in_defaults(driver, modes, mode):
    r = driver(mode).run({})
    assert r.returncode == 0 and r.lines == []
    cfg = r.config
    res = modes[mode]
    assert cfg["mode"] == mode and cfg["variant"] == "release" and cfg["preset"] is None
    assert cfg["features"] == res.features
    for key, entry in cfg["options"].items():
        opt = res.option(key)
        assert entry["source"] == "default", key
        assert entry["compiled_in"] == res.features[opt.feature]
        assert entry["value"] == expected_json(opt, values.format_value(opt, res.values[key])), key
    assert set(cfg["options"]) == {o.key for o in res.options.options}


def test_second_load_starts_over_from_the_defaults(driver):
    r = driver("fast").run({"HAKMEM_TINY_TLS_CAP": "32"}, fmt="twice")
    assert r.config["options"]["tiny_tls_cap"] == {**r.config["options"]["tiny_tls_cap"],
                                                    "value": 32, "source": "env"}
    assert r.lines == []


# ---------------------------------------------------------------------------- priority

def test_mode_preset_applies_that_modes_defaults(driver, modes):
    # learning compiles in a subset of research's features: a clean preset switch
    r = driver("research").run({"HAKMEM_MODE": "learning"})
    assert r.lines == []
    cfg = r.config
    assert cfg["preset"] == "learning"
    learning = modes["learning"]
    for key, entry in cfg["options"].items():
        if not entry["compiled_in"]:
            continue
        if learning.option(key).preset:
            assert entry == {**entry, "value": "learning", "source": "env"}
            continue
        # every knob, including those of features learning lacks (at their plain defaults)
        assert entry["source"] == "mode" and entry["preset"] == "learning", key
        opt = learning.option(key)
        assert entry["value"] == expected_json(opt, values.format_value(opt, learning.values[key]))


def test_individual_variable_beats_the_preset_which_beats_the_default(driver, modes):
    research, learning = modes["research"], modes["learning"]
    # pick knobs where the three layers differ: research default != learning default
    key = next(k for k in research.values
               if learning.compiled_in(k) and research.values[k] != learning.values[k]
               and research.option(k).type == "int")
    opt = research.option(key)
    third = other_value(opt, learning, modes)
    d = driver("research")
    base = d.run({}).config["options"][key]
    assert base["value"] == research.values[key] and base["source"] == "default"
    preset = d.run({"HAKMEM_MODE": "learning"}).config["options"][key]
    assert preset["value"] == learning.values[key] and preset["source"] == "mode"
    both = d.run({"HAKMEM_MODE": "learning", opt.env: third}).config["options"][key]
    assert both["value"] == int(third) and both["source"] == "env"


def test_preset_needing_compiled_out_features_names_the_library(driver, modes):
    r = driver("fast").run({"HAKMEM_MODE": "learning"})
    missing = [f for f, on in modes["learning"].features.items() if on and not modes["fast"].features[f]]
    assert len(r.lines) == 1, r.lines
    line = r.lines[0]
    assert line.startswith("HAKMEM_MODE=learning needs features ")
    assert all(f in line for f in missing)
    assert "(mode fast)" in line and "use out/learning/release/libhakmem.so" in line
    cfg = r.config
    assert cfg["preset"] == "learning"
    # what the library has is still taken from the preset
    assert cfg["options"]["thp"]["source"] == "mode"


def test_unknown_mode_is_reported_with_the_closest_name(driver):
    r = driver("fast").run({"HAKMEM_MODE": "learnin"})
    assert r.lines == ["HAKMEM_MODE=learnin: not one of minimal, fast, balanced, learning, research, "
                       "hardened (did you mean learning?); ignored"]
    assert r.config["preset"] is None
    assert r.config["options"]["mode"]["source"] == "default"


def _pairs():
    from hakmem import loader
    modes = loader.resolve_all()
    on = {m: {f for f, v in r.features.items() if v} for m, r in modes.items()}
    return [(lib, preset) for lib in modes for preset in modes if on[preset] <= on[lib]]


@pytest.mark.parametrize("lib,preset", _pairs(), ids=lambda x: x)
def test_every_preset_applies_cleanly_where_its_features_exist(driver, modes, lib, preset):
    """The generated preset values are all valid for the C parser, in every build that
    has the preset's features."""
    r = driver(lib).run({"HAKMEM_MODE": preset})
    assert r.lines == []
    cfg = r.config
    for key, entry in cfg["options"].items():
        if entry["compiled_in"] and not modes[preset].option(key).preset:
            assert entry["source"] == "mode", key
            opt = modes[preset].option(key)
            assert entry["value"] == expected_json(opt, values.format_value(opt, modes[preset].values[key]))


def test_preset_is_case_insensitive(driver):
    r = driver("balanced").run({"HAKMEM_MODE": "FaSt"})
    assert r.lines == [] and r.config["preset"] == "fast"


# ---------------------------------------------------------------------------- values

ACCEPTED = [
    ("HAKMEM_WRAP_TINY", "off", False), ("HAKMEM_WRAP_TINY", "FALSE", False),
    ("HAKMEM_WRAP_TINY", "no", False), ("HAKMEM_WRAP_TINY", " 0 ", False),
    ("HAKMEM_SUPERSLAB_REUSE", "yes", True), ("HAKMEM_SUPERSLAB_REUSE", "On", True),
    ("HAKMEM_SUPERSLAB_REUSE", "true", True), ("HAKMEM_SUPERSLAB_REUSE", "1", True),
    ("HAKMEM_TINY_TLS_CAP", "+128", 128), ("HAKMEM_TINY_TLS_CAP", "1024", 1024),
    ("HAKMEM_BIGCACHE_MAX_BLOCK", "64K", 64 << 10), ("HAKMEM_BIGCACHE_MAX_BLOCK", "2m", 2 << 20),
    ("HAKMEM_BIGCACHE_MAX_BLOCK", "1G", 1 << 30), ("HAKMEM_BIGCACHE_MAX_BLOCK", "1048576", 1 << 20),
    ("HAKMEM_ALLOC_LEARN_RATE", "0.25", 0.25), ("HAKMEM_ALLOC_LEARN_RATE", "1e-1", 0.1),
    ("HAKMEM_ALLOC_LEARN_RATE", ".5", 0.5), ("HAKMEM_ALLOC_LEARN_RATE", "1", 1.0),
    ("HAKMEM_THP", "AUTO", "auto"), ("HAKMEM_FREE_POLICY", "Immediate", "immediate"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:256:16,C1:256:16", "C0:256:16,C1:256:16"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "c7:2048:256", "c7:2048:256"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "", ""),
    ("HAKMEM_WMAX_CANDIDATES_MID", "1.4,1.5", "1.4,1.5"),
    ("HAKMEM_STATS_FILE", "/var/tmp/hakmem stats.json", "/var/tmp/hakmem stats.json"),
]


@pytest.mark.parametrize("env,text,value", ACCEPTED, ids=[f"{e}={t}" for e, t, _ in ACCEPTED])
def test_accepted_value_forms(driver, options, env, text, value):
    r = driver("research").run({env: text})
    assert r.lines == []
    entry = r.config["options"][options.by_env(env).key]
    assert entry["value"] == value and entry["source"] == "env"


# one per malformed-value class: (variable, value)
REJECTED = [
    ("HAKMEM_WRAP_TINY", "maybe"), ("HAKMEM_WRAP_TINY", ""), ("HAKMEM_WRAP_TINY", "2"),
    ("HAKMEM_TINY_TLS_CAP", "abc"), ("HAKMEM_TINY_TLS_CAP", "12x"), ("HAKMEM_TINY_TLS_CAP", "1.5"),
    ("HAKMEM_TINY_TLS_CAP", "2048"), ("HAKMEM_TINY_TLS_CAP", "-1"),
    ("HAKMEM_TINY_TLS_CAP", "99999999999999999999999"), ("HAKMEM_TINY_TLS_CAP", "64K"),
    ("HAKMEM_BIGCACHE_MAX_BLOCK", "12Q"), ("HAKMEM_BIGCACHE_MAX_BLOCK", "2T"),
    ("HAKMEM_BIGCACHE_MAX_BLOCK", "4K"), ("HAKMEM_BIGCACHE_MAX_BLOCK", "2G"),
    ("HAKMEM_BIGCACHE_MAX_BLOCK", "-64K"), ("HAKMEM_BIGCACHE_MAX_BLOCK", "64KB"),
    ("HAKMEM_ALLOC_LEARN_RATE", "fast"), ("HAKMEM_ALLOC_LEARN_RATE", "1.5"),
    ("HAKMEM_ALLOC_LEARN_RATE", "0,5"), ("HAKMEM_ALLOC_LEARN_RATE", "nan"),
    ("HAKMEM_ALLOC_LEARN_RATE", "1e999"),
    ("HAKMEM_THP", "sometimes"), ("HAKMEM_FREE_POLICY", ""),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:256"), ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "X0:256:16"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C8:256:16"), ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:8:4"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:4096:16"), ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:64:0"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:32:64"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:256:16,C0:128:8"),
    ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0:256:16,"), ("HAKMEM_TINY_TLS_CLASS_OVERRIDE", "C0: 256:16"),
    ("HAKMEM_WMAX_CANDIDATES_MID", ""), ("HAKMEM_WMAX_CANDIDATES_MID", "1.4,,1.5"),
    ("HAKMEM_WMAX_CANDIDATES_MID", "1.4,x"), ("HAKMEM_WMAX_CANDIDATES_MID", "1.4,9"),
    ("HAKMEM_WMAX_CANDIDATES_MID", ",".join(["1.5"] * 17)),
    ("HAKMEM_STATS_FILE", "x" * 300), ("HAKMEM_STATS_FILE", "a\tb"),
]


@pytest.mark.parametrize("env,text", REJECTED, ids=[f"{e}={t[:24]}" for e, t in REJECTED])
def test_malformed_value_is_one_line_and_the_default_stays(driver, options, modes, env, text):
    opt = options.by_env(env)
    r = driver("research").run({env: text})
    assert r.returncode == 0
    assert len(r.lines) == 1, r.lines
    line = r.lines[0]
    shown = "".join("?" if ord(c) < 0x20 else c for c in text)[:64]
    assert line.startswith(f"{env}={shown}: ")
    # the reason is the one `hakmem validate` gives, word for word
    reason = envcheck.reject_reason(opt, text)
    assert reason is not None
    kept = values.format_value(opt, modes["research"].values[opt.key]) or '""'
    assert line == f"{env}={shown}: {reason}; keeping {kept[:64]}"
    entry = r.config["options"][opt.key]
    assert entry["source"] == "default"


def test_range_and_choices_are_named(driver):
    r = driver("research").run({"HAKMEM_TINY_TLS_CAP": "abc", "HAKMEM_THP": "x",
                                "HAKMEM_BIGCACHE_MAX_BLOCK": "4K"})
    text = "\n".join(r.lines)
    assert "HAKMEM_TINY_TLS_CAP=abc: not an integer (allowed 16\u20131024); keeping 64" in text
    assert "HAKMEM_THP=x: not one of off, auto, on; keeping on" in text
    assert "HAKMEM_BIGCACHE_MAX_BLOCK=4K: out of range (allowed 32K\u20131G); keeping 33554432" in text


# ---------------------------------------------------------------------------- names

def test_unknown_name_gets_the_closest_known_one(driver, options):
    r = driver("fast").run({"HAKMEM_TINY_TLS_CAPP": "1", "HAKMEM_SUPERSLAB_LRUCAP": "3",
                            "HAKMEM_": "", "HAKMEMX": "1"})
    assert sorted(r.lines) == sorted([
        "HAKMEM_TINY_TLS_CAPP is not a hakmem variable (did you mean HAKMEM_TINY_TLS_CAP?); ignored",
        "HAKMEM_SUPERSLAB_LRUCAP is not a hakmem variable (did you mean HAKMEM_SUPERSLAB_LRU_CAP?); ignored",
        f"HAKMEM_ is not a hakmem variable (did you mean "
        f"{envcheck.closest('HAKMEM_', [o.env for o in options.options])}?); ignored",
    ])


def test_deprecated_alias_is_honoured_with_its_replacement_and_sunset(driver, options):
    opt = next(o for o in options.options if o.aliases and o.type == "bool")
    alias = opt.aliases[0]
    mode = next(m for m in ("minimal", "fast", "balanced", "learning", "research")
                if driver(m).run({}).config["features"][opt.feature])
    r = driver(mode).run({alias.env: "1"})
    assert r.lines == [f"{alias.env} is deprecated, use {opt.env} instead (sunset {alias.sunset})"]
    entry = r.config["options"][opt.key]
    assert entry["value"] is True and entry["source"] == "alias" and entry["alias"] == alias.env


def test_canonical_name_wins_over_its_alias(driver):
    r = driver("learning").run({"HAKMEM_LEARN": "0", "HAKMEM_ALLOC_LEARN": "1"})
    assert r.lines == ["HAKMEM_LEARN is deprecated, use HAKMEM_ALLOC_LEARN instead (sunset "
                       "2026-05-26); ignored because HAKMEM_ALLOC_LEARN is set"]
    entry = r.config["options"]["alloc_learn"]
    assert entry["value"] is True and entry["source"] == "env"


def test_knob_of_a_compiled_out_feature_names_the_library_that_has_it(driver):
    r = driver("fast").run({"HAKMEM_ALLOC_LEARN": "1"})
    assert r.lines == ["HAKMEM_ALLOC_LEARN: feature alloc_learn is not compiled into this library "
                       "(mode fast); value ignored; use out/learning/release/libhakmem.so"]
    assert r.config["options"]["alloc_learn"]["source"] == "default"


def test_minimal_reports_every_compiled_out_knob_once(driver, modes):
    minimal = modes["minimal"]
    env = {o.env: other_value(o, minimal, modes) for o in minimal.options.options
           if not minimal.compiled_in(o.key)}
    r = driver("minimal").run(env)
    assert len(r.lines) == len(env)
    for name in env:
        assert sum(1 for ln in r.lines if ln.startswith(f"{name}: feature ")) == 1


# ---------------------------------------------------------------------------- secure mode

def test_secure_process_ignores_every_hakmem_variable(driver):
    env = {"HAKMEM_TINY_TLS_CAP": "32", "HAKMEM_MODE": "minimal", "HAKMEM_DEBUG_LEVEL": "3",
           "HAKMEM_BOGUS": "1"}
    r = driver("fast").run(env, "--secure")
    assert r.lines == []                                   # debug_level 0 (the default): silent
    cfg = r.config
    assert cfg["secure"] is True and cfg["preset"] is None
    assert all(e["source"] == "default" for e in cfg["options"].values())


def test_secure_process_says_so_once_at_debug_level_1(driver):
    r = driver("fast").run({"HAKMEM_TINY_TLS_CAP": "32", "HAKMEM_X": "1"}, "--secure",
                           "--debug-default", "1")
    assert r.lines == ["secure-execution process (AT_SECURE): ignoring 2 HAKMEM_* variables"]
    assert r.config["options"]["tiny_tls_cap"]["value"] == 64


def test_not_secure_without_the_flag(driver):
    r = driver("fast").run({"HAKMEM_TINY_TLS_CAP": "32"})
    assert r.config["secure"] is False and r.config["options"]["tiny_tls_cap"]["value"] == 32


# ---------------------------------------------------------------------------- debug output

def test_debug_level_2_prints_the_resolved_configuration(driver, modes):
    r = driver("balanced").run({"HAKMEM_DEBUG_LEVEL": "2", "HAKMEM_TINY_TLS_CAP": "32",
                                "HAKMEM_STATS": "1", "HAKMEM_MODE": "fast"})
    text = "\n".join(r.lines)
    assert "configuration of mode balanced, variant release; HAKMEM_MODE = fast" in text
    assert re.search(r"HAKMEM_TINY_TLS_CAP\s+= 32\s+env$", text, re.M)
    assert re.search(r"HAKMEM_DEBUG_LEVEL\s+= 2\s+env$", text, re.M)
    assert re.search(r"HAKMEM_STATS_ENABLE\s+= 1\s+alias HAKMEM_STATS$", text, re.M)
    assert re.search(r"HAKMEM_THP\s+= auto\s+mode fast$", text, re.M)
    assert re.search(r"HAKMEM_ALLOC_LEARN\s+= 0\s+compiled out \(feature alloc_learn\)$", text, re.M)
    # one table line per knob
    assert sum(1 for ln in r.lines if ln.startswith("  HAKMEM_")) == len(modes["balanced"].values)


def test_text_dump_has_every_knob(driver, modes):
    r = driver("fast").run({}, fmt="text")
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("  HAKMEM_")]
    assert len(rows) == len(modes["fast"].values)
    assert r.stdout.startswith("configuration of mode fast, variant release; HAKMEM_MODE not set")


# ---------------------------------------------------------------------------- every knob

def _first_mode_with(feature, modes):
    return next(m for m, r in modes.items() if r.features[feature])


def _last_mode_with(feature, modes):
    return [m for m, r in modes.items() if r.features[feature]][-1]


def _knob_cases():
    from hakmem import loader
    return [pytest.param(o.env, id=o.env) for o in loader.load_options().options]


@pytest.mark.parametrize("env", _knob_cases())
def test_every_knob_is_accepted_where_its_feature_is_compiled_in(driver, options, modes, env):
    opt = options.by_env(env)
    for mode in {_first_mode_with(opt.feature, modes), _last_mode_with(opt.feature, modes)}:
        text = other_value(opt, modes[mode], modes)
        r = driver(mode).run({env: text, "HAKMEM_DEBUG_LEVEL": "2"}
                             if opt.key != "debug_level" else {env: "2"})
        problems = [ln for ln in r.lines if not ln.startswith(("configuration of", "features:", "  "))]
        assert problems == [], problems
        entry = r.config["options"][opt.key]
        assert entry["source"] == "env", (mode, entry)
        if opt.key != "debug_level":
            want = expected_json(opt, text)
            assert entry["value"] == (want.lower() if isinstance(want, str) and opt.type == "choice"
                                      else want)
        assert re.search(rf"^  {env}\s+= .*\senv$", "\n".join(r.lines), re.M)


# ---------------------------------------------------------------------------- list parsers

@pytest.mark.parametrize("text,out", [
    ("C0:256:16,C1:256:16", "2 0:256:16 1:256:16"),
    ("  c3:32:8 , C7:2048:256 ", "2 3:32:8 7:2048:256"),
    ("", "0"),
    ("C0:32:8,C1:32:8,C2:32:8,C3:32:8,C4:32:8,C5:32:8,C6:32:8,C7:32:8",
     "8 " + " ".join(f"{i}:32:8" for i in range(8))),
])
def test_class_override_parser(driver, text, out):
    p = driver("fake").tool("override", text)
    assert p.returncode == 0 and p.stdout.strip() == out


@pytest.mark.parametrize("text,msg", [
    ("C0:256", "'C0:256' is not class:cap:refill (e.g. C0:256:16)"),
    ("0:256:16", "'0:256:16' is not class:cap:refill (e.g. C0:256:16)"),
    ("C8:256:16", "'C8:256:16': class 8 is out of range [0, 7]"),
    ("C1:15:4", "'C1:15:4': cap 15 is out of range [16, 2048]"),
    ("C1:64:300", "'C1:64:300': refill 300 is out of range [1, 256]"),
    ("C1:32:33", "'C1:32:33': refill 33 exceeds cap 32"),
    ("C1:32:8,c1:32:8", "'c1:32:8': class C1 given twice"),
    ("C1:32:8;C2:32:8", "'C1:32:8;C2:32:8' is not class:cap:refill (e.g. C0:256:16)"),
])
def test_class_override_parser_rejects(driver, options, text, msg):
    p = driver("fake").tool("override", text)
    assert p.returncode == 1 and p.stdout.strip() == f"error {msg}"
    opt = options.by_env("HAKMEM_TINY_TLS_CLASS_OVERRIDE")
    assert envcheck.reject_reason(opt, text) == msg      # same words as tools/hakmem/values.py


@pytest.mark.parametrize("text,out", [("1.4,1.5", [1.4, 1.5]), (" 2 , 3.5e0 ", [2.0, 3.5]),
                                      ("1.25", [1.25])])
def test_float_list_parser(driver, text, out):
    p = driver("fake").tool("floats", text)
    assert p.returncode == 0
    n, *vals = p.stdout.split()
    assert int(n) == len(out) and [float(v) for v in vals] == out


@pytest.mark.parametrize("text", ["", "1.4,", "x", "1.4 1.5", ",".join(["1"] * 17)])
def test_float_list_parser_rejects(driver, text):
    p = driver("fake").tool("floats", text)
    assert p.returncode == 1 and p.stdout.strip() == "error"


def test_fake_table_still_builds_and_loads(driver):
    r = driver("fake").run({"HAKMEM_TINY_TLS_CAP": "32"})
    assert r.config["mode"] == "fast" and r.config["options"]["tiny_tls_cap"]["value"] == 32


def test_empty_mode_value_is_reported(driver):
    r = driver("fast").run({"HAKMEM_MODE": ""})
    assert len(r.lines) == 1 and r.lines[0].startswith("HAKMEM_MODE=: not one of minimal, fast")


def test_real_at_secure_from_a_setuid_driver(driver, tmp_path):
    """The unforced path: a driver without the test hook, setuid to another user, so the
    kernel sets AT_SECURE (euid != uid) and getauxval() reports it."""
    import os
    import pwd
    import shutil
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("needs root to make a setuid-nobody program")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    d = driver("fast")                        # compiled sources and table of a real mode
    exe = tmp_path / "driver-secure"
    cc = shutil.which("cc") or "cc"
    gen = driver.rendered / "fast"
    from cfgutil import DRIVER_SOURCES, ROOT
    subprocess.run([cc, "-std=gnu11", "-O1", "-DHAK_DRIVER_REAL_SECURE",
                    '-DHAK_VARIANT_NAME="release"', f"-I{ROOT / 'include'}", f"-I{ROOT / 'src'}",
                    f"-I{ROOT / 'src' / 'config'}", f"-I{gen}", *map(str, DRIVER_SOURCES),
                    str(gen / "hak_options.c"), "-o", str(exe)], check=True)
    os.chmod(tmp_path, 0o755)
    env = {"HAKMEM_TINY_TLS_CAP": "32"}
    plain = d.run(env)
    assert plain.config["secure"] is False      # the hook-free build, not setuid: not secure
    from cfgutil import clean_env
    p = subprocess.run([str(exe), "json"], env=clean_env(**env), capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["secure"] is False
    os.chown(exe, nobody.pw_uid, nobody.pw_gid)
    os.chmod(exe, 0o4755)
    p = subprocess.run([str(exe), "json"], env=clean_env(**env), capture_output=True, text=True)
    if p.returncode != 0 or not json.loads(p.stdout)["secure"]:
        pytest.skip("setuid bit not honoured here (nosuid mount?)")
    cfg = json.loads(p.stdout)
    assert cfg["options"]["tiny_tls_cap"] == {**cfg["options"]["tiny_tls_cap"], "value": 64,
                                               "source": "default"}


@pytest.mark.parametrize("text", [" fast", "FAST\t", "Fast "])
def test_preset_name_like_any_choice(driver, options, text):
    assert envcheck.reject_reason(options.by_env("HAKMEM_MODE"), text) is None
    r = driver("balanced").run({"HAKMEM_MODE": text})
    assert r.lines == [] and r.config["preset"] == "fast"
    assert r.config["options"]["mode"]["value"] == "fast"
