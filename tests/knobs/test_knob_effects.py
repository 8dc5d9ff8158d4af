"""Each documented knob observably changes behaviour: generated from the `effect:` entries of
modes/options.yaml (see hakmem.schema.Effect), not from a hand list.

For every knob, its workload (tests/knobs/c/<workload>.c) runs under out/<mode>/release/
libhakmem.so twice, with the knob at its default and at `set` (plus the effect's `env`), and the
value `observe` names in the stats JSON, stderr or the working directory must change as `expect`
says. A multi-threaded workload's counters move with scheduling, so a failed comparison is run
once more before it fails.
"""
from __future__ import annotations

import pytest

import knobrun
from hakmem import loader

OPTIONS = loader.load_options()
EFFECTS = loader.load_effects()
ATTEMPTS = 2
SHOULD = {"increases": "increase", "decreases": "decrease", "differs": "differ",
          "matches": "match with the set value only"}


def _params():
    return [pytest.param(e, id=e.option.env) for e in EFFECTS.values()]


def test_every_knob_has_an_effect():
    missing = [o.env for o in OPTIONS.options if not o.preset and o.effect is None]
    assert not missing, ("knobs without an `effect:` in modes/options.yaml (tests/knobs cannot show "
                         f"that they do anything): {', '.join(missing)}")


def test_workload_catalogue_matches_sources():
    sources = {p.stem for p in knobrun.CDIR.glob("*.c")}
    declared = set(OPTIONS.workloads)
    assert declared == sources, (f"options.yaml `workloads:` {sorted(declared)} vs "
                                 f"tests/knobs/c/*.c {sorted(sources)}")
    used = {e.workload for e in EFFECTS.values() if e.workload}
    assert used <= declared


@pytest.mark.parametrize("eff", _params())
def test_knob_effect(built, eff):
    if eff.unobserved:
        pytest.skip(f"{eff.option.env}: no observable effect yet: {eff.unobserved}")
    env_set = dict(eff.env)
    env_set[eff.option.env] = eff.set
    last = ""
    for _ in range(ATTEMPTS):
        base = knobrun.run_workload(eff.workload, eff.mode, eff.env)
        new = knobrun.run_workload(eff.workload, eff.mode, env_set)
        for r in (base, new):
            assert r.result.returncode == 0 and not r.result.timed_out, r.describe()
        a, b = knobrun.observe(base, eff), knobrun.observe(new, eff)
        if isinstance(a, knobrun.Missing) and isinstance(b, knobrun.Missing):
            pytest.fail(f"{eff.option.env}: observe {eff.observe}: {a.why}")
        if knobrun.holds(eff, a, b):
            return
        last = (f"{eff.option.env}: {eff.observe} should {SHOULD[eff.expect]} "
                f"({eff.mode}, workload {eff.workload}): default {eff.default!r} -> {a!r}, "
                f"{eff.set!r} -> {b!r}")
    pytest.fail(last + f"\n--- stderr with {eff.set} (tail) ---\n"
                + "\n".join(new.result.stderr.splitlines()[-15:]))
