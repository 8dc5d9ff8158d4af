"""Every mode x variant builds, exports what it should, and leaves compiled-out features out."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from functools import lru_cache

import pytest

from support import MODES, ROOT, VARIANTS, case_id, so_path
from hakmem import loader

# The malloc family a drop-in replacement must interpose (release and debug only).
MALLOC_FAMILY = ["malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
                 "aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size"]

# The prefixed API: every function the public header declares.
HAK_API = re.findall(r"\b(hak_\w+)\s*\(", (ROOT / "include" / "hakmem.h").read_text())

# Learning code is named hak_learn_* (the shared part, used by ELO too) and, per feature:
FEATURE_PREFIXES = {
    "alloc_learn": ("hak_learn_alloc_",),
    "cap_learn": ("hak_learn_cap_",),
    "mem_learn": ("hak_learn_mem_", "hak_learn_wmax_"),
    "elo": ("hak_elo_",),
}
LEARNING = tuple(FEATURE_PREFIXES)          # any of them needs the shared hak_learn_* code
SEGMENT = re.compile(r"(^|_)(learn|elo)(_|$)", re.IGNORECASE)

HERE = Path(__file__).resolve().parent
CASES = [pytest.param(m, v, id=case_id(m, v)) for m in MODES for v in VARIANTS]
VARIANT_INFO = loader.load_variants()


@lru_cache(maxsize=None)
def dynamic_symbols(mode: str, variant: str) -> frozenset[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", str(so_path(mode, variant))],
                         check=True, capture_output=True, text=True).stdout
    return frozenset(line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip())


def _with_prefix(syms, prefixes) -> list[str]:
    return sorted(s for s in syms if s.startswith(prefixes))


@pytest.mark.parametrize("mode,variant", CASES)
def test_library_is_built(built, mode, variant):
    so = so_path(mode, variant)
    assert so.is_file(), f"{so} missing"
    assert so.read_bytes()[:4] == b"\x7fELF"


def test_every_library(built):
    assert len(MODES) * len(VARIANTS) == 24
    assert all(so_path(m, v).is_file() for m in MODES for v in VARIANTS)


@pytest.mark.parametrize("mode,variant", CASES)
def test_prefixed_api_exported(built, mode, variant):
    assert HAK_API, "no hak_* functions found in include/hakmem.h"
    missing = sorted(set(HAK_API) - dynamic_symbols(mode, variant))
    assert not missing, f"{case_id(mode, variant)} does not export {missing}"


@pytest.mark.parametrize("mode,variant", CASES)
def test_malloc_family_only_where_interposing(built, mode, variant):
    syms = dynamic_symbols(mode, variant)
    present = sorted(set(MALLOC_FAMILY) & syms)
    if VARIANT_INFO[variant].interpose:
        assert present == sorted(MALLOC_FAMILY), \
            f"{case_id(mode, variant)} misses {sorted(set(MALLOC_FAMILY) - syms)}"
    else:
        assert not present, f"{case_id(mode, variant)} interposes {present} but must not"


@pytest.mark.parametrize("mode,variant", CASES)
def test_compiled_out_learning_is_absent(built, mode, variant):
    res = loader.resolve_mode(mode)
    syms = dynamic_symbols(mode, variant)
    if not any(res.features[f] for f in LEARNING):
        found = sorted(s for s in syms if SEGMENT.search(s))
        assert not found, f"{case_id(mode, variant)} compiles out all learning yet exports {found}"
    for feature, prefixes in FEATURE_PREFIXES.items():
        if not res.features[feature]:
            found = _with_prefix(syms, prefixes)
            assert not found, f"{case_id(mode, variant)} compiles out {feature} yet exports {found}"


@pytest.mark.parametrize("mode", [m for m in MODES
                                  if any(loader.resolve_mode(m).features[f] for f in LEARNING)])
def test_compiled_in_learning_is_present(built, mode):
    """The positive side of the check above, in debug (default visibility shows internal names)."""
    res = loader.resolve_mode(mode)
    syms = dynamic_symbols(mode, "debug")
    for feature, prefixes in FEATURE_PREFIXES.items():
        if res.features[feature]:
            assert _with_prefix(syms, prefixes), \
                f"{mode}-debug compiles in {feature} but has no {'/'.join(prefixes)}* symbol"


@pytest.mark.parametrize("mode,variant", CASES)
def test_library_names_its_mode_and_variant(built, tmp_path, mode, variant):
    """HAK_MODE_NAME (generated) and HAK_VARIANT_NAME (variant define) reach the code.

    A tiny driver is linked against the .so with the variant's own sanitizer flags."""
    info = VARIANT_INFO[variant]
    san = [f for f in info.cflags if f.startswith("-fsanitize")]
    exe = tmp_path / "names"
    so = so_path(mode, variant)
    subprocess.run(["gcc", "-std=gnu11", "-O1", "-g", "-pthread", *san, f"-I{ROOT / 'include'}",
                    str(HERE / "c" / "names.c"), "-o", str(exe), str(so),
                    f"-Wl,-rpath,{so.parent}"], check=True, capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_") and k != "LD_PRELOAD"}
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [mode, variant]
