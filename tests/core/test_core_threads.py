"""Threads: fork in a threaded process (c/fork_threads.c), thread churn with
cross-thread frees after the allocating thread exited (c/thread_churn.c), the
multi-threaded stress with per-block cookies (c/stress_mt.c), and 32 threads on
this machine's 2 cores handing blocks over in bulk (c/handoff_mt.c) — through
LD_PRELOAD in release/debug and through the hak_* API under asan and tsan."""
from __future__ import annotations

import pytest

from hakmem import loader

import cbuild

# Work per variant, sized for 2-core CI (seconds, not minutes).
STRESS = {  # threads, rounds, ops per thread per round
    "release": (16, 5, 5000),
    "debug": (16, 4, 4000),
    "asan": (16, 3, 3000),
    "tsan": (16, 2, 1200),
    cbuild.GLIBC: (16, 4, 4000),
}
CHURN = {  # rounds, threads per round, blocks per thread
    "release": (60, 32, 1000),
    "debug": (48, 32, 1000),
    "asan": (15, 16, 1000),
    "tsan": (8, 16, 500),
    cbuild.GLIBC: (60, 32, 1000),
}
HANDOFF = {  # threads, objects per producer, swap rounds, swap ops per thread per round
    "release": (32, 16000, 6, 8000),
    "debug": (32, 10000, 6, 5000),
    "asan": (32, 8000, 4, 4000),
    "tsan": (32, 2000, 3, 1000),
    cbuild.GLIBC: (32, 16000, 6, 8000),
}
FORK = {  # forks, background threads, threads in each child, quiesce
    "release": (6, 4, 4, 0),
    "debug": (6, 4, 4, 0),
    # The sanitizer runtimes (gcc 12) are not fork-safe when another thread is
    # inside them at fork time (a child of a plain ASan program deadlocks the
    # same way), so there the background threads park around each fork (see
    # fork_threads.c); racing forks are proven by release and debug.
    "asan": (4, 2, 4, 1),
    # ThreadSanitizer also cannot start threads in the child of a multi-threaded fork
    "tsan": (4, 2, 0, 1),
    cbuild.GLIBC: (6, 4, 4, 0),
}


def _args(table, variant):
    return [str(x) for x in table[variant]]


# --------------------------------------------------------------------------- fork

def test_fork_threads_glibc_control():
    cbuild.assert_clean(cbuild.run_driver("fork_threads", None, cbuild.GLIBC, _args(FORK, cbuild.GLIBC), timeout=120))


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_fork_threads(mode, variant):
    res = cbuild.run_driver("fork_threads", mode, variant, _args(FORK, variant), timeout=240)
    cbuild.assert_clean(res, mode, variant)


# --------------------------------------------------------------------------- churn

def _rss_series(res):
    return [int(l.split("bytes=")[1].split()[0]) for l in res.info("rss")]


def test_thread_churn_glibc_control():
    res = cbuild.run_driver("thread_churn", None, cbuild.GLIBC, _args(CHURN, cbuild.GLIBC), timeout=120)
    cbuild.assert_clean(res)
    assert len(_rss_series(res)) == CHURN[cbuild.GLIBC][0]


def _rss_env(mode):
    """A mode whose THP policy is "on" backs every 2 MiB SuperSlab with a huge page: RSS then counts
    huge pages, not leaked caches, so the memory checks run with that one knob turned off."""
    return {"HAKMEM_THP": "off"} if loader.resolve_mode(mode).values.get("thp") == "on" else None


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_thread_churn(mode, variant):
    env = _rss_env(mode)
    res = cbuild.run_driver("thread_churn", mode, variant, _args(CHURN, variant), env=env, timeout=240)
    if variant in cbuild.SANITIZER_VARIANTS:
        # shadow memory makes RSS meaningless there; correctness still counts
        failures = [l for l in res.failures if not l.startswith("FAIL churn.rss")]
        assert res.returncode in (0, 1) and not res.timed_out and not failures, res.describe()
    else:
        cbuild.assert_clean(res, mode, variant)


# --------------------------------------------------------------------------- stress

def test_stress_glibc_control():
    res = cbuild.run_driver("stress_mt", None, cbuild.GLIBC, _args(STRESS, cbuild.GLIBC), timeout=120)
    cbuild.assert_clean(res)


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_stress_mt(mode, variant):
    res = cbuild.run_driver("stress_mt", mode, variant, _args(STRESS, variant) + [str(0x5eed + len(mode))],
                            timeout=300)
    cbuild.assert_clean(res, mode, variant)
    assert res.info("ops="), res.describe()


MIXED_OWNERS = {"HAKMEM_WRAP_POOL": "0", "HAKMEM_WRAP_LARGE": "0"}


@pytest.mark.parametrize("mode,variant", cbuild.cases(variants=("release", "tsan")))
def test_stress_mixed_owners(mode, variant):
    """The stress with two tiers switched off: blocks of both owners are freed
    across threads and realloc'ed from one owner to the other."""
    threads, rounds, ops = STRESS[variant]
    args = [str(threads), "2", str(max(ops // 2, 500)), "4242"]
    res = cbuild.run_driver("stress_mt", mode, variant, args, env=MIXED_OWNERS, timeout=300)
    cbuild.assert_clean(res, mode, variant, MIXED_OWNERS)


# --------------------------------------------------------------------------- oversubscribed

MiB = 1 << 20


def _memory(res, phase):
    line = res.info(f"memory phase={phase} ")[0]
    fields = dict(kv.split("=") for kv in line.split()[1:])
    return int(fields["peak_rss"]), int(fields["live_peak"])


def _check_handoff(res, variant):
    threads, per_producer, rounds, _ = HANDOFF[variant]
    handoff = dict(kv.split("=") for kv in res.info("handoff ")[0].split()[1:])
    assert int(handoff["verified"]) == int(handoff["objects"]) == threads // 2 * per_producer, res.describe()
    if variant in cbuild.SANITIZER_VARIANTS:
        return      # shadow memory makes RSS meaningless there
    # Each thread's heap may hold one partly used slab per size class (64 KiB tiny, 256 KiB pool,
    # 512 KiB mid: about 16 MiB if it touches every class) on top of the blocks the program holds.
    allowance = (threads + 2) * 16 * MiB
    for phase in ("handoff", "swap"):
        rss, live = _memory(res, phase)
        assert rss <= 2 * live + allowance, f"{phase}: peak RSS {rss >> 20} MiB for {live >> 20} MiB live\n" + \
            res.describe()
    # No growth from round to round: blocks freed by other (and by exited) threads are reused.
    series = _rss_series(res)
    assert len(series) == rounds
    half = rounds // 2
    assert max(series[half:]) <= 1.3 * max(series[:half]) + 16 * MiB, f"RSS by round {series}"


def test_oversubscribed_handoff_glibc_control():
    res = cbuild.run_driver("handoff_mt", None, cbuild.GLIBC, _args(HANDOFF, cbuild.GLIBC), timeout=120)
    cbuild.assert_clean(res)
    _check_handoff(res, cbuild.GLIBC)


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_oversubscribed_handoff(mode, variant):
    """32 threads on 2 cores: batches of mixed-size blocks (and their large batch arrays) passed from
    producers to consumers, then threads swapping arrays of blocks round after round; every byte
    verified before it is freed, RSS within a bound of what the program holds."""
    env = _rss_env(mode)
    res = cbuild.run_driver("handoff_mt", mode, variant, _args(HANDOFF, variant) + [str(0x5eed + len(mode))],
                            env=env, timeout=300)
    cbuild.assert_clean(res, mode, variant, env)
    _check_handoff(res, variant)


# --------------------------------------------------------------------------- large blocks over a life

LIFECYCLE_ROUNDS = {"release": 2000, "debug": 600, cbuild.GLIBC: 2000}


def test_large_lifecycle_glibc_control():
    cbuild.assert_clean(cbuild.run_driver("large_lifecycle", None, cbuild.GLIBC,
                                          [LIFECYCLE_ROUNDS[cbuild.GLIBC]], timeout=120))


@pytest.mark.parametrize("mode,variant", cbuild.cases(variants=cbuild.PRELOAD_VARIANTS))
def test_large_lifecycle(mode, variant):
    """Large blocks while the process has one thread (stash, BigCache, realloc, a signal handler,
    fork), then after threads freed the main thread's blocks and made their own, and after a fork
    with that history: every block keeps its bytes, every child exits cleanly, and mallinfo2 counts
    exactly the live large blocks at each step."""
    res = cbuild.run_driver("large_lifecycle", mode, variant, [LIFECYCLE_ROUNDS[variant]], timeout=240)
    cbuild.assert_clean(res, mode, variant)
