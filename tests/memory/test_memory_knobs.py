"""Each memory-return knob changes what hakmem's own counters show.

Runs tests/memory/c/memdrv.c under out/<mode>/release/libhakmem.so (LD_PRELOAD) with a knob set in
the environment and reads hak_stats_json(): syscalls, and the "memory" sections (bigcache, decay,
thp, superslab) that src/bigcache.c, src/decay.c, src/thp.c and src/superslab.c report.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdrv import mem, memdrv  # noqa: E402

MiB = 1 << 20
VM_LOOP = [f"loop:{2 * MiB}:200"]


def sc(st: dict) -> dict:
    return st["syscalls"]


# ---- BigCache ---------------------------------------------------------------------------

def test_bigcache_serves_repeated_large_blocks():
    st, _ = memdrv(VM_LOOP)
    bc = mem(st, "bigcache")
    assert bc["hits"] >= 199
    assert sc(st)["mmap"] < 20 and sc(st)["munmap"] < 20


def test_thread_stash_serves_the_vm_loop_without_the_shared_cache():
    # a block freed and asked for again by the same thread comes back from its stash: after the
    # first mapping, every allocation of the loop is a stash hit and the shared table sees no traffic
    st, _ = memdrv(VM_LOOP)
    bc = mem(st, "bigcache")
    assert bc["stash_hits"] >= 199 and bc["stash_puts"] >= 200
    assert bc["puts"] <= 1      # (a decay pass may catch the stash between two iterations)


def test_thread_stash_respects_wmax():
    # the stashed 1 MiB block serves a request 1.9x smaller (W_MAX 2.0) but not 3x smaller
    near, res = memdrv([f"fit:{MiB}:{int(MiB / 1.9)}"])
    assert res.info("fit") == ["fit same=1"] and mem(near, "bigcache")["stash_hits"] == 1
    far, res = memdrv([f"fit:{MiB}:{MiB // 3}"])
    assert res.info("fit") == ["fit same=0"] and mem(far, "bigcache")["stash_hits"] == 0


def test_thread_stash_is_released_by_decay():
    # the last block of the loop sits in the stash; the decay pass moves it to the BigCache and
    # releases it there, as it would any idle cached block
    st, _ = memdrv(VM_LOOP + ["sleep:900"], {"HAKMEM_DECAY_MS": "200", "HAKMEM_FREE_POLICY": "batch"})
    bc = mem(st, "bigcache")
    assert bc["stash_hits"] >= 199 and bc["puts"] >= 1
    assert bc["released_bytes"] >= 2 * MiB and bc["warm_bytes"] == 0


def test_thread_stash_emptied_at_thread_exit_and_trim():
    st, _ = memdrv([f"thread:{2 * MiB}:50"], {"HAKMEM_DECAY_MS": "60000"})
    bc = mem(st, "bigcache")
    assert bc["stash_hits"] >= 49 and bc["cached_blocks"] == 1      # the thread's block, handed over
    st, _ = memdrv(VM_LOOP + ["trim"], {"HAKMEM_DECAY_MS": "60000"})
    assert mem(st, "bigcache")["cached_blocks"] == 0 and mem(st, "bigcache")["flushed"] >= 1


@pytest.mark.parametrize("variant", ["release", "tsan"])
def test_large_block_freed_by_another_thread_goes_back_to_its_allocator(variant):
    # a buffer handed down a pipeline: the consumer's free hands it back to the producer's heap,
    # whose next request takes it there without the BigCache (and its lock)
    st, _ = memdrv([f"handback:{256 * 1024}:100"], {"HAKMEM_DECAY_MS": "60000"}, variant=variant)
    bc = mem(st, "bigcache")
    assert bc["stash_handbacks"] >= 99 and bc["stash_hits"] >= 98
    assert bc["puts"] <= 1


def test_stashes_share_the_byte_cap_with_the_bigcache():
    # 7 threads keep a 2 MiB block each in their stashes, then 8 more are freed (one to the main
    # thread's stash): with a 16 MiB cap the other 7 find no room, and the stashes and the table
    # together never hold more than the cap
    st, _ = memdrv([f"park:{2 * MiB}:7", f"hold:{2 * MiB}:8", "drop"], {"HAKMEM_BIGCACHE_MAX_MB": "16"})
    bc = mem(st, "bigcache")
    assert bc["stash_bytes"] >= 7 * 2 * MiB
    assert bc["cached_bytes"] + bc["stash_bytes"] <= 16 * MiB and bc["rejects"] + bc["evictions"] >= 7
    # the other way round: the table is full first (7 blocks + 1 stashed), and three threads stashing
    # 4 MiB blocks (too big to be served from it) push its oldest blocks out
    st, _ = memdrv([f"hold:{2 * MiB}:8", "drop", f"park:{4 * MiB}:3"], {"HAKMEM_BIGCACHE_MAX_MB": "16"})
    bc = mem(st, "bigcache")
    assert bc["cached_bytes"] + bc["stash_bytes"] <= 16 * MiB and bc["evictions"] >= 5


def test_trim_empties_every_threads_stash():
    st, _ = memdrv(["park:262144:100", "trim"], {"HAKMEM_DECAY_MS": "60000"})
    bc = mem(st, "bigcache")
    assert bc["stash_puts"] >= 100 and bc["stash_bytes"] == 0 and bc["flushed"] >= 100


def test_stale_write_into_a_stashed_block_harms_nothing_else():
    # the stash keeps no size inside the freed block: a program scribbling on it after free()
    # cannot make the allocator unmap its neighbours
    st, res = memdrv([f"stale:{2 * MiB}"])
    assert mem(st, "bigcache")["stash_puts"] >= 2


def test_thread_stash_off_with_immediate_release():
    st, _ = memdrv(VM_LOOP, {"HAKMEM_FREE_POLICY": "immediate"})
    bc = mem(st, "bigcache")
    assert bc["stash_puts"] == 0 and bc["hits"] >= 199 and sc(st)["madvise"] >= 200


def test_bigcache_max_mb_zero_means_no_cache():
    st, _ = memdrv(VM_LOOP, {"HAKMEM_BIGCACHE_MAX_MB": "0"})
    assert mem(st, "bigcache")["hits"] == 0
    assert sc(st)["mmap"] >= 200 and sc(st)["munmap"] >= 200


def test_bigcache_max_mb_caps_cached_bytes():
    # 24 blocks of 2 MiB freed: a 16 MiB cap keeps at most 8 of them (the thread's stash holds one of
    # them, inside the cap) and evicts the rest
    st, _ = memdrv([f"hold:{2 * MiB}:24", "drop"], {"HAKMEM_BIGCACHE_MAX_MB": "16"})
    bc = mem(st, "bigcache")
    assert bc["stash_bytes"] == 2 * MiB
    assert bc["cached_bytes"] + bc["stash_bytes"] <= 16 * MiB and bc["evictions"] >= 16
    big, _ = memdrv([f"hold:{2 * MiB}:24", "drop"], {"HAKMEM_BIGCACHE_MAX_MB": "256"})
    bb = mem(big, "bigcache")
    assert bb["evictions"] == 0 and bb["cached_blocks"] == 23 and bb["stash_bytes"] == 2 * MiB   # all 24 kept


def test_bigcache_max_block_rejects_bigger_blocks():
    st, _ = memdrv([f"loop:{4 * MiB}:50"], {"HAKMEM_BIGCACHE_MAX_BLOCK": "2M"})
    assert mem(st, "bigcache")["rejects"] >= 50 and mem(st, "bigcache")["hits"] == 0
    assert sc(st)["munmap"] >= 50
    ok, _ = memdrv([f"loop:{4 * MiB}:50"], {"HAKMEM_BIGCACHE_MAX_BLOCK": "8M"})
    assert mem(ok, "bigcache")["hits"] >= 49


def test_bigcache_hash_grows_with_distinct_sizes():
    st, _ = memdrv(["sizes:40960:8388608:300"], {"HAKMEM_BIGCACHE_MAX_MB": "4096"})
    bc = mem(st, "bigcache")
    assert bc["keys"] > 192 and bc["buckets"] >= 512 and bc["grows"] >= 1
    small, _ = memdrv(["sizes:40960:131072:20"])
    assert mem(small, "bigcache")["buckets"] == 256


def test_bigcache_wmax_window():
    # W_MAX (default 2.0): a cached 1 MiB block serves a request up to 2x smaller, not 3x smaller
    _, near = memdrv([f"fit:{MiB}:{int(MiB / 1.9)}"])
    assert near.info("fit") == ["fit same=1"]
    _, far = memdrv([f"fit:{MiB}:{MiB // 3}"])
    assert far.info("fit") == ["fit same=0"]


@pytest.mark.parametrize("env", [{}, {"HAKMEM_FREE_POLICY": "immediate"},
                                 {"HAKMEM_MADVISE_POLICY": "free", "HAKMEM_FREE_POLICY": "immediate"}],
                         ids=["warm", "released-dontneed", "released-free"])
def test_calloc_from_reused_block_is_zero(env):
    st, _ = memdrv([f"calloc:{3 * MiB}", f"calloc:{100 * 1024}"], env)
    bc = mem(st, "bigcache")
    assert bc["hits"] >= 2
    if env.get("HAKMEM_MADVISE_POLICY") == "free":
        assert bc["hits_zeroed"] == 0           # MADV_FREE pages may keep old data: memset
    elif env:
        assert bc["hits_zeroed"] >= 2           # MADV_DONTNEED pages read zero: no memset


# ---- decay, free policy, madvise policy -------------------------------------------------

HOLD_32M = [f"hold:{MiB}:32", "drop"]


def test_decay_releases_after_delay():
    st, _ = memdrv(HOLD_32M + ["sleep:900"], {"HAKMEM_DECAY_MS": "200", "HAKMEM_FREE_POLICY": "batch"})
    d, bc = mem(st, "decay"), mem(st, "bigcache")
    assert d["thread_starts"] == 1 and d["passes"] >= 1
    assert bc["released_bytes"] >= 32 * MiB and bc["warm_bytes"] == 0
    assert d["madvise_calls"] < 32                # batched: adjacent blocks coalesce


def test_long_decay_keeps_memory_warm():
    st, _ = memdrv(HOLD_32M + ["sleep:600"], {"HAKMEM_DECAY_MS": "60000", "HAKMEM_FREE_POLICY": "batch"})
    bc = mem(st, "bigcache")
    assert bc["released_bytes"] == 0 and bc["warm_bytes"] >= 32 * MiB


def test_immediate_policy_releases_at_free_without_thread():
    st, _ = memdrv(HOLD_32M, {"HAKMEM_FREE_POLICY": "immediate"})
    d = mem(st, "decay")
    assert d["deferred"] is False and d["thread_starts"] == 0
    assert sc(st)["madvise"] >= 32 and mem(st, "bigcache")["warm_bytes"] == 0


def test_adaptive_policy_releases_early_when_idle():
    # decay 5 s, but the program is idle: adaptive gives the memory back at the next quiet pass
    env = {"HAKMEM_DECAY_MS": "5000"}
    ad, _ = memdrv(HOLD_32M + ["sleep:3500"], {**env, "HAKMEM_FREE_POLICY": "adaptive"})
    ba, _ = memdrv(HOLD_32M + ["sleep:3500"], {**env, "HAKMEM_FREE_POLICY": "batch"})
    assert mem(ad, "decay")["idle_passes"] >= 1 and mem(ad, "bigcache")["released_bytes"] >= 32 * MiB
    assert mem(ba, "bigcache")["released_bytes"] == 0


def test_madvise_policy_names_the_advice():
    fr, _ = memdrv(HOLD_32M, {"HAKMEM_FREE_POLICY": "immediate", "HAKMEM_MADVISE_POLICY": "free"})
    dn, _ = memdrv(HOLD_32M, {"HAKMEM_FREE_POLICY": "immediate", "HAKMEM_MADVISE_POLICY": "dontneed"})
    assert mem(fr, "decay")["advice"] == "free" and mem(dn, "decay")["advice"] == "dontneed"
    # DONTNEED drops RSS at once; MADV_FREE leaves it until memory pressure
    assert dn["process"]["rss_bytes"] < fr["process"]["rss_bytes"] - 16 * MiB


def test_rss_falls_after_free_and_stays_flat_while_reused():
    _, res = memdrv([f"hold:{MiB}:64", "rss", "drop", "rss", "sleep:1200", "rss"],
                    {"HAKMEM_DECAY_MS": "300", "HAKMEM_FREE_POLICY": "batch", "HAKMEM_BIGCACHE_MAX_MB": "128"})
    held, freed, later = (int(x.split("=")[1]) for x in res.info("rss_kib"))
    assert freed > held - 8 * 1024          # still warm right after free (reuse would cost nothing)
    assert later < held - 48 * 1024         # ... and given back once idle


@pytest.mark.parametrize("mode", ["fast", "balanced"])
def test_memory_freed_into_the_heap_of_an_exited_thread_goes_back(mode):
    # A thread allocates 48 MiB of small blocks and exits; the main thread frees them all. No thread
    # takes the exited one's heap again, so only the decay pass drains what was freed into it.
    _, res = memdrv(["orphan:256:50331648", "rss", "drop", "sleep:1500", "rss"],
                    {"HAKMEM_DECAY_MS": "300"}, mode=mode)
    held, later = (int(x.split("=")[1]) for x in res.info("rss_kib"))
    assert later < held - 36 * 1024, res.describe()


# ---- THP ----------------------------------------------------------------------------------

def thp_system() -> str:
    try:
        txt = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return "never"
    return txt.split("[")[1].split("]")[0]


@pytest.mark.skipif(thp_system() == "never", reason="THP disabled on this machine")
def test_thp_policy():
    steps = [f"loop:{4 * MiB}:4", "small:256:16777216"]
    on, _ = memdrv(steps, {"HAKMEM_THP": "on"})
    auto, _ = memdrv(steps, {"HAKMEM_THP": "auto"})
    off, _ = memdrv(steps, {"HAKMEM_THP": "off"})
    t_on, t_auto, t_off = mem(on, "thp"), mem(auto, "thp"), mem(off, "thp")
    assert t_on["policy"] == "on" and t_auto["policy"] == "auto" and t_off["policy"] == "off"
    # on: the large block and every SuperSlab; auto: the large block and SuperSlabs of hot heaps only
    assert t_on["hugepage_advised"] > t_auto["hugepage_advised"] >= 1
    assert t_off["hugepage_advised"] == 0


@pytest.mark.skipif(thp_system() == "never", reason="THP disabled on this machine")
def test_released_superslabs_lose_their_huge_page_advice():
    # THP on advises every SuperSlab; once emptied, cached and released, a SuperSlab keeps only its
    # header page resident, and khugepaged would refill the whole 2 MiB if the advice stayed: it is
    # withdrawn at release, and given again when the SuperSlab is reused
    env = {"HAKMEM_THP": "on", "HAKMEM_DECAY_MS": "100", "HAKMEM_FREE_POLICY": "batch"}
    st, _ = memdrv(["small:8192:33554432", "drop", "sleep:600"], env)
    t = mem(st, "thp")
    assert t["withdrawn"] >= 1 and mem(st, "superslab")["decay_released"] >= 4
    again, _ = memdrv(["small:8192:33554432", "drop", "sleep:600", "small:8192:33554432"], env)
    assert mem(again, "thp")["hugepage_advised"] > t["hugepage_advised"]
    off, _ = memdrv(["small:8192:33554432", "drop", "sleep:600"], {**env, "HAKMEM_THP": "off"})
    assert mem(off, "thp")["withdrawn"] == 0


# ---- SuperSlab life cycle ------------------------------------------------------------------

# 48 MiB of 8 KiB blocks (several SuperSlabs), freed: the emptied SuperSlabs go to the cache
SLAB_STORM = ["small:8192:50331648", "drop"]


def test_superslab_lazy():
    lazy, _ = memdrv(SLAB_STORM, {"HAKMEM_SUPERSLAB_LAZY": "1"})
    eager, _ = memdrv(SLAB_STORM, {"HAKMEM_SUPERSLAB_LAZY": "0"})
    assert mem(lazy, "superslab")["cached"] >= 4 and mem(lazy, "superslab")["evicted"] == 0
    assert mem(eager, "superslab")["cached"] == 0 and mem(eager, "superslab")["evicted"] >= 4
    assert sc(eager)["munmap"] > sc(lazy)["munmap"]


def test_superslab_lru_cap():
    st, _ = memdrv(SLAB_STORM, {"HAKMEM_SUPERSLAB_LRU_CAP": "2"})
    ss = mem(st, "superslab")
    assert ss["cache_cap"] == 2 and ss["cached"] <= 2 and ss["evicted"] >= 2


def test_superslab_soft_cap():
    st, _ = memdrv(SLAB_STORM, {"HAKMEM_SUPERSLAB_SOFT_CAP": "1", "HAKMEM_DECAY_MS": "60000",
                                "HAKMEM_FREE_POLICY": "batch"})
    ss = mem(st, "superslab")
    assert ss["soft_released"] >= 2 and ss["cached_unreleased"] <= 1
    hi, _ = memdrv(SLAB_STORM, {"HAKMEM_SUPERSLAB_SOFT_CAP": "1024", "HAKMEM_DECAY_MS": "60000",
                                "HAKMEM_FREE_POLICY": "batch"})
    assert mem(hi, "superslab")["soft_released"] == 0


def test_superslab_prewarm():
    st, _ = memdrv(["loop:64:1"], {"HAKMEM_SUPERSLAB_PREWARM": "6"})
    ss = mem(st, "superslab")
    assert ss["prewarmed"] == 6 and ss["cache_hits"] >= 1
    none, _ = memdrv(["loop:64:1"])
    assert mem(none, "superslab")["prewarmed"] == 0


def test_superslab_reuse_keeps_spares():
    # MID blocks (no POOL arena reservation, whose reserved SuperSlabs already count as spares)
    steps = ["small:16384:50331648", "drop"] * 2
    reuse, _ = memdrv(steps, {"HAKMEM_SUPERSLAB_REUSE": "1"})
    plain, _ = memdrv(steps, {"HAKMEM_SUPERSLAB_REUSE": "0"})
    assert mem(reuse, "superslab")["spares_kept"] >= 1 and mem(plain, "superslab")["spares_kept"] == 0
    assert mem(reuse, "superslab")["cache_puts"] < mem(plain, "superslab")["cache_puts"]


def test_superslabs_grow_without_limit():
    st, _ = memdrv(["small:16384:268435456", "drop"])   # 256 MiB of 16 KiB blocks: >= 128 SuperSlabs
    assert mem(st, "superslab")["mapped"] >= 128


def test_empty_slab_units_are_released():
    st, _ = memdrv(SLAB_STORM + ["sleep:900"], {"HAKMEM_DECAY_MS": "200", "HAKMEM_FREE_POLICY": "batch"})
    ss = mem(st, "superslab")
    assert ss["free_storms"] >= 1
    assert ss["decay_released"] + ss["units_released"] >= 4 and ss["cached_unreleased"] == 0


# ---- POOL arena and refill batch ------------------------------------------------------------

POOL_FILL = ["small:4096:33554432", "drop"]     # 32 MiB of 4 KiB blocks


@pytest.mark.parametrize("mode", ["fast", "balanced"])
def test_one_size_at_a_time_reuses_the_pages_of_the_last(mode):
    # glibc's bench-malloc-simple pattern: 1000 blocks of one size, then of the next (16 B - 4 KiB).
    # The largest batch holds 4 MiB; every batch destroys its slabs when freed, and the next size
    # class reuses their still-resident units before touching fresh ones, so what stays resident
    # (nothing is released within the 500 ms decay delay) is near that largest batch, not near the
    # sum of all batches (8 MiB, about 12 MiB above the start when each class kept its own pages).
    _, res = memdrv(["rss", "batches:4096:1000:20", "rss"], {"HAKMEM_DECAY_MS": "60000"}, mode=mode)
    before, after = (int(x.split("=")[1]) for x in res.info("rss_kib"))
    assert after - before <= 9 * 1024, res.describe()


def test_pool_arena_grows_by_levels():
    grow, _ = memdrv(POOL_FILL, {"HAKMEM_POOL_TLS_ARENA_MB_INIT": "1", "HAKMEM_POOL_TLS_ARENA_MB_MAX": "8",
                                 "HAKMEM_POOL_TLS_ARENA_GROWTH_LEVELS": "3"})
    flat, _ = memdrv(POOL_FILL, {"HAKMEM_POOL_TLS_ARENA_MB_INIT": "2", "HAKMEM_POOL_TLS_ARENA_MB_MAX": "2"})
    ag, af = mem(grow, "superslab")["arena"], mem(flat, "superslab")["arena"]
    assert ag["level_max"] == 3 and ag["extra_superslabs"] >= 3
    assert af["level_max"] == 0 and af["extra_superslabs"] == 0
    assert mem(grow, "superslab")["batch_maps"] >= 1 and sc(grow)["mmap"] < sc(flat)["mmap"]


def test_pool_refill_batch():
    one, _ = memdrv(POOL_FILL, {"HAKMEM_POOL_REFILL_BATCH": "1"})
    four, _ = memdrv(POOL_FILL, {"HAKMEM_POOL_REFILL_BATCH": "4"})
    assert one["heaps"]["refills"] > 2 * four["heaps"]["refills"]


# ---- modes and fork ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["minimal", "fast", "balanced", "learning", "research"])
def test_large_loop_in_every_mode(mode):
    st, _ = memdrv([f"loop:{2 * MiB}:100", f"calloc:{3 * MiB}", "trim"], mode=mode)
    if mode == "minimal":                       # no BigCache compiled in: one mapping per block
        assert "bigcache" not in st.get("memory", {}) and sc(st)["mmap"] >= 100
    else:
        assert mem(st, "bigcache")["hits"] >= 99 and sc(st)["mmap"] < 30


def test_decay_thread_restarts_in_fork_child():
    st, res = memdrv([f"hold:{MiB}:8", "drop", "fork"], {"HAKMEM_DECAY_MS": "100", "HAKMEM_FREE_POLICY": "batch"})
    from mdrv import stats

    child = stats(res, "CHILD")
    assert mem(st, "decay")["thread_starts"] == 1
    assert mem(child, "decay")["thread_starts"] >= 1 and mem(child, "bigcache")["released_bytes"] > 0


# ---- sanitizer variants: a large-block stress with the decay thread working underneath ----------

from mdrv import run as run_driver  # noqa: E402
import cbuild  # noqa: E402


@pytest.mark.parametrize("mode,variant", [
    pytest.param(m, v, id=f"{m}-{v}", marks=[getattr(pytest.mark, v)])
    for v in ("asan", "tsan") for m in ("minimal", "fast", "balanced")])
def test_large_stress_sanitizers(mode, variant):
    env = {"HAKMEM_DECAY_MS": "5", "HAKMEM_FREE_POLICY": "batch", "HAKMEM_BIGCACHE_MAX_MB": "24",
           "HAKMEM_THP": "auto"}
    res = run_driver("large_stress", mode, variant, ["4", "600" if variant == "tsan" else "1500"], env,
                     timeout=300)
    cbuild.assert_clean(res, mode, variant, env)


@pytest.mark.parametrize("mode", ["fast", "balanced"])
def test_large_stress_release(mode):
    env = {"HAKMEM_DECAY_MS": "5", "HAKMEM_FREE_POLICY": "batch", "HAKMEM_BIGCACHE_MAX_MB": "24"}
    res = run_driver("large_stress", mode, "release", ["4", "3000"], env, timeout=300)
    cbuild.assert_clean(res, mode, "release", env)
