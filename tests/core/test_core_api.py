"""API edge cases of the malloc family (c/api_edge.c), the cases where peer
allocators slip (c/peer_slips.c) and allocation during early process start
(c/early_start.c), in every mode and variant.

Each driver prints one ``ok NAME`` / ``FAIL NAME: detail`` line per check;
the glibc control runs prove the drivers themselves are right."""
from __future__ import annotations

from pathlib import Path

import pytest

import cbuild

PEERS = {
    "mimalloc": Path("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"),
    "tcmalloc": Path("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"),
}


def test_api_edge_glibc_control():
    res = cbuild.run_driver("api_edge", None, cbuild.GLIBC, timeout=60)
    cbuild.assert_clean(res)
    assert "cfree" in res.oks or any(l.startswith("skip cfree") for l in res.lines)
    assert len(res.oks) > 100


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_api_edge(mode, variant):
    res = cbuild.run_driver("api_edge", mode, variant, timeout=180)
    cbuild.assert_clean(res, mode, variant)
    if variant in cbuild.PRELOAD_VARIANTS:
        # hakmem really was underneath: hak_owns resolved and so did cfree
        assert "info hakmem_loaded=1" in res.lines, res.describe()
        assert "cfree" in res.oks, res.describe()


def test_peer_slips_glibc_control():
    cbuild.assert_clean(cbuild.run_driver("peer_slips", None, cbuild.GLIBC, ["4", "3000"], timeout=60))


@pytest.mark.parametrize("peer,expected", [
    ("mimalloc", {"peer.memalign.threads.aligned", "peer.malloc.huge.errno", "peer.calloc.overflow.errno"}),
    ("tcmalloc", {"peer.calloc.overflow.errno"}),
])
def test_peer_slips_are_detected(peer, expected):
    """The driver is sensitive: it catches the slips of Debian's peers."""
    lib = PEERS[peer]
    if not lib.exists():
        pytest.skip(f"{lib} not installed (scripts/setup.sh installs the peers)")
    exe = cbuild.compile_driver("peer_slips")
    res = cbuild.run([str(exe), "4", "3000"], cbuild.clean_env({"LD_PRELOAD": str(lib)}), timeout=60)
    failed = {l.split()[1].rstrip(":") for l in res.failures}
    assert expected <= failed, res.describe()


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_peer_slips(mode, variant):
    iters = "800" if variant == "tsan" else "3000"
    res = cbuild.run_driver("peer_slips", mode, variant, ["4", iters], timeout=180)
    cbuild.assert_clean(res, mode, variant)


def test_early_start_glibc_control():
    cbuild.assert_clean(cbuild.run_driver("early_start", None, cbuild.GLIBC, timeout=60))


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_early_start(mode, variant):
    """Constructors allocate (also through dlsym/dlopen and a thread) before
    main; with the preload, the __libc_* aliases are hakmem's."""
    res = cbuild.run_driver("early_start", mode, variant, timeout=60)
    cbuild.assert_clean(res, mode, variant)
    if variant in cbuild.PRELOAD_VARIANTS:
        assert "libc_aliases.hakmem" in res.oks, res.describe()
