"""Loading the library with dlopen, as plugins, language bindings and test harnesses do.

glibc can give a dlopen'ed library's initial-exec TLS only what is left of a small surplus of the
static TLS block (about 1.5 KiB, shared by every library loaded that way), so the library keeps
its static TLS to a pointer and a few flags; the thread caches live in the heaps. c/dlopen_mt.c
loads it, allocates and frees across threads through hak_*, closes it while a thread that used it
is still alive, and opens it again; Python loads it through ctypes."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import cbuild

STATIC_TLS_MAX = 64   # bytes: a pointer and a few flags, in every mode and variant


def tls_size(so) -> int:
    """Memory size of the library's PT_TLS segment (0 without one)."""
    out = subprocess.run(["readelf", "-lW", str(so)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "TLS":
            return int(f[5], 16)
    return 0


@pytest.mark.parametrize("mode,variant", cbuild.cases())
def test_static_tls_is_small(mode, variant):
    so = cbuild.require_so(mode, variant)
    size = tls_size(so)
    assert 0 < size <= STATIC_TLS_MAX, f"{so}: static TLS of {size} bytes (at most {STATIC_TLS_MAX})"


@pytest.mark.parametrize("mode,variant", cbuild.cases(variants=cbuild.PRELOAD_VARIANTS))
def test_dlopen_threads_close_reopen(mode, variant):
    so = cbuild.require_so(mode, variant)
    res = cbuild.run_driver("dlopen_mt", None, cbuild.GLIBC, [so, 4, 3000], timeout=120)
    cbuild.assert_clean(res, mode, variant)
    for check in ("dlopen", "not-interposed", "threads", "dlclose", "survivor-exit", "reopen-alloc"):
        assert check in res.oks, res.describe()


@pytest.mark.parametrize("mode", cbuild.MODES)
def test_ctypes_load_and_threads(mode):
    so = cbuild.require_so(mode, "release")
    script = textwrap.dedent(f"""
        import ctypes, threading
        lib = ctypes.CDLL({str(so)!r})
        lib.hak_malloc.restype = ctypes.c_void_p
        lib.hak_malloc.argtypes = [ctypes.c_size_t]
        lib.hak_free.argtypes = [ctypes.c_void_p]
        lib.hak_owns.argtypes = [ctypes.c_void_p]
        lib.hak_mode_name.restype = ctypes.c_char_p
        blocks, lock = [], threading.Lock()
        def make():
            for i in range(2000):
                p = lib.hak_malloc(16 + i % 5000)
                ctypes.memset(p, i & 0xff, 16)
                with lock:
                    blocks.append((p, i & 0xff))
        def drain():        # frees what the other threads allocated
            for _ in range(4000):
                with lock:
                    item = blocks.pop() if blocks else None
                if item:
                    p, v = item
                    assert ctypes.string_at(p, 16) == bytes([v]) * 16, hex(p)
                    assert lib.hak_owns(p) == 1, hex(p)
                    lib.hak_free(p)
        ts = [threading.Thread(target=make) for _ in range(2)] + [threading.Thread(target=drain)]
        for t in ts: t.start()
        for t in ts: t.join()
        for p, _ in blocks: lib.hak_free(p)
        print("mode", lib.hak_mode_name().decode())
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env=cbuild.clean_env())
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"mode {mode}" in res.stdout
