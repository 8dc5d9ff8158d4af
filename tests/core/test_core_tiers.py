"""Tier routing: HAKMEM_WRAP_TINY/POOL/MID/LARGE=0 sends that size range to
the system allocator, and free / realloc (also across tiers) /
malloc_usable_size still find every pointer's real owner (c/tier_route.c)."""
from __future__ import annotations

import pytest

import cbuild

TIERS = ["TINY", "POOL", "MID", "LARGE"]
CONFIGS = {
    "all-on": {},
    **{f"{t.lower()}-off": {f"HAKMEM_WRAP_{t}": "0"} for t in TIERS},
    "all-off": {f"HAKMEM_WRAP_{t}": "0" for t in TIERS},
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_tier_route_glibc_control(config):
    res = cbuild.run_driver("tier_route", None, cbuild.GLIBC, env=CONFIGS[config], timeout=60)
    cbuild.assert_clean(res)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_tier_route(mode, variant, config):
    env = CONFIGS[config]
    res = cbuild.run_driver("tier_route", mode, variant, env=env, timeout=120)
    cbuild.assert_clean(res, mode, variant, env)
    # ownership really was checked (hak_owns reachable)
    assert any(l.startswith("info tiers") and "have_owns=1" in l for l in res.lines), res.describe()
