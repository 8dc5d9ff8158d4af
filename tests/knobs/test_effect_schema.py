"""The `effect:` block of options.yaml is validated like the rest: a broken one stops the loader
with FILE: KEY: REASON. Also the stats-path lookup the effect test uses."""
from __future__ import annotations

import shutil

import pytest

import knobrun
from hakmem import loader
from hakmem.schema import ConfigError
from support import ROOT

KNOB = """
  - env: HAKMEM_ZZ_FIXTURE_KNOB
    type: int
    min: 0
    max: 100
    default: 10
    feature: {feature}
    doc: "fixture knob"
    effect: {effect}
"""


def _with_knob(tmp_path, effect: str, feature: str = "sfc"):
    modes = tmp_path / "modes"
    shutil.copytree(ROOT / "modes", modes)
    with open(modes / "options.yaml", "a", encoding="utf-8") as f:
        f.write(KNOB.replace("{feature}", feature).replace("{effect}", effect))
    return modes


def _problem(modes) -> tuple[str, str, str]:
    with pytest.raises(ConfigError) as ei:
        loader.load_effects(modes)
    err = ei.value
    found = [p for p in err.problems if p[1].startswith("zz_fixture_knob")]
    assert found, str(err)
    return found[0]


@pytest.mark.parametrize("effect, key, reason", [
    ('{workload: mixd, set: "5", observe: heaps.refills, expect: increases}',
     "zz_fixture_knob.effect.workload", "unknown workload (did you mean 'mixed'?)"),
    ('{workload: mixed, set: "5", observe: "heaps..refills", expect: increases}',
     "zz_fixture_knob.effect", "is neither a dotted stats path"),
    ('{workload: mixed, set: "5", observe: "stderr:(", expect: matches}',
     "zz_fixture_knob.effect", "bad regex"),
    ('{workload: mixed, set: "5", observe: heaps.refills, expect: matches}',
     "zz_fixture_knob.effect", "expect `matches` needs observe stderr:"),
    ('{workload: mixed, set: "5", observe: "stderr:x", expect: increases}',
     "zz_fixture_knob.effect", "needs a stats path"),
    ('{workload: mixed, set: "500", observe: heaps.refills, expect: increases}',
     "zz_fixture_knob.effect.set", "'500'"),
    ('{workload: mixed, set: "10", observe: heaps.refills, expect: increases}',
     "zz_fixture_knob.effect.set", "is the knob's default in mode 'balanced'"),
    ('{mode: minimal, workload: mixed, set: "5", observe: heaps.refills, expect: increases}',
     "zz_fixture_knob.effect.mode", "mode 'minimal' does not compile feature 'sfc' in"),
    ('{mode: fastest, workload: mixed, set: "5", observe: heaps.refills, expect: increases}',
     "zz_fixture_knob.effect.mode", "unknown mode"),
    ('{workload: mixed, set: "5", observe: heaps.refills, expect: grows}',
     "zz_fixture_knob.effect.expect", "Input should be"),
    ('{workload: mixed, set: "5", observe: heaps.refills, expect: increases, when: now}',
     "zz_fixture_knob.effect.when", "unknown key"),
    ('{workload: mixed, observe: heaps.refills, expect: increases}',
     "zz_fixture_knob.effect", "effect needs set"),
    ('{unobserved: "why", workload: mixed}',
     "zz_fixture_knob.effect", "unobserved excludes workload"),
])
def test_bad_effect_is_reported(tmp_path, effect, key, reason):
    modes = _with_knob(tmp_path, effect)
    f, k, r = _problem(modes)
    assert (f, k) == ("modes/options.yaml", key) and reason in r, (f, k, r)


def test_bad_effect_stops_resolve_all(tmp_path):
    """The build validates through resolve_all: a mode lacking the feature stops it too."""
    modes = _with_knob(tmp_path, '{mode: fast, workload: mixed, set: "5", observe: heaps.refills, '
                                 'expect: increases}', feature="elo")
    with pytest.raises(ConfigError, match="zz_fixture_knob.effect.mode: mode 'fast' does not compile"):
        loader.resolve_all(modes)


def test_default_mode_prefers_stats(tmp_path):
    """No `mode:`: the first mode with the feature and with stats (sfc: fast has no stats -> balanced)."""
    modes = _with_knob(tmp_path, '{workload: mixed, set: "5", observe: heaps.refills, expect: increases}')
    eff = loader.load_effects(modes)["zz_fixture_knob"]
    assert (eff.mode, eff.kind, eff.target, eff.default) == ("balanced", "path", "heaps.refills", 10)


def test_unobserved_is_kept_with_its_reason(tmp_path):
    modes = _with_knob(tmp_path, '{unobserved: "needs a 10 s run"}')
    eff = loader.load_effects(modes)["zz_fixture_knob"]
    assert eff.unobserved == "needs a 10 s run" and eff.workload is None


DOC = {"tiers": [{"tier": "tiny", "allocs": 5}, {"tier": "pool", "allocs": 7}],
       "classes": [{"class": 2, "tier": "tiny", "misses": 3}, {"class": 40, "tier": "pool", "misses": 4}],
       "learning": {"cap_learn": {"classes": [{"class": 56, "cap": 8}, {"class": 57, "cap": 12}]}},
       "intervals": [{"t": 1}, {"t": 2}]}


@pytest.mark.parametrize("path, value", [
    ("tiers.pool.allocs", 7), ("classes.2.misses", 3), ("classes.40.misses", 4), ("tiers.1.allocs", 7),
    ("learning.cap_learn.classes.*.cap", 20), ("intervals", DOC["intervals"]),
])
def test_lookup(path, value):
    assert knobrun.lookup(DOC, path) == value


@pytest.mark.parametrize("path", ["tiers.mid.allocs", "totals.allocs", "tiers.pool.allocs.x"])
def test_lookup_missing(path):
    with pytest.raises(KeyError):
        knobrun.lookup(DOC, path)
