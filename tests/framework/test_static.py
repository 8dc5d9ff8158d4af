"""libhakmem.a: built beside the .so for the variants that interpose malloc, linked into a program
(`gcc prog.c out/<mode>/release/libhakmem.a -pthread -ldl`), whose malloc is then hakmem's: defined in
the executable, exported to libc, owning the program's and libc's own blocks. Fully `-static` is not
supported (docs/ARCHITECTURE.md, "Static linking")."""
from __future__ import annotations

import json
import subprocess

import pytest

import servedprog
import support
from support import MODES, VARIANTS

DEFAULT = support.loader.default_mode()
CASES = [(m, "release") for m in MODES] + [(DEFAULT, "debug")]


def archive(mode, variant):
    return support.OUT / mode / variant / "libhakmem.a"


def test_archives_only_for_interposing_variants(built):
    for v, spec in support.loader.load_variants().items():
        assert archive(DEFAULT, v).exists() == spec.interpose, v


@pytest.mark.parametrize("mode,variant", CASES, ids=[support.case_id(*c) for c in CASES])
def test_linked_program_is_served_by_the_archive(built, tmp_path, mode, variant):
    exe = servedprog.build(support.ROOT / "build" / "tests-static" / mode / variant / "served",
                           [str(archive(mode, variant)), "-pthread", "-ldl"])
    defined = subprocess.run(["nm", "--defined-only", str(exe)], capture_output=True, text=True).stdout
    assert any(l.split()[1:] == ["T", "malloc"] for l in defined.splitlines())
    exported = subprocess.run(["nm", "-D", "--defined-only", str(exe)], capture_output=True, text=True).stdout
    assert any(l.split()[-1:] == ["malloc"] for l in exported.splitlines())     # libc's calls reach it
    ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert "libhakmem" not in ldd
    stats = tmp_path / "stats.json"
    proc = subprocess.run([str(exe), "300"], env=support.clean_env({"HAKMEM_STATS_FILE": str(stats)}),
                          capture_output=True, text=True, timeout=60)
    got = servedprog.answer(proc)
    assert got == {"mode": mode, "variant": variant, "owned": "300/300", "strdup": "1"}, got
    if support.loader.resolve_mode(mode).features.get("stats"):
        assert json.loads(stats.read_text())["totals"]["allocs"] >= 300


def test_pkg_config_static_libs_link_the_installed_archive(built, tmp_path):
    prefix = tmp_path / "prefix"
    with support.build_lock():
        proc = support.scons("-Q", "install", f"PREFIX={prefix}", f"mode={DEFAULT}", "variant=release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = support.clean_env({"PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")})
    libs = subprocess.run(["pkg-config", "--static", "--libs", "hakmem"], env=env, capture_output=True,
                          text=True).stdout.split()
    assert libs == [f"-L{prefix}/lib", "-lhakmem", "-pthread", "-ldl"]
    # the documented form: the archive for -lhakmem, the private libraries dynamic
    link = [a if a != "-lhakmem" else "-Wl,-Bstatic,-lhakmem,-Bdynamic" for a in libs]
    exe = servedprog.build(tmp_path / "served", link)
    got = servedprog.answer(subprocess.run([str(exe), "10"], env=support.clean_env(), capture_output=True,
                                           text=True, timeout=60))
    assert got == {"mode": DEFAULT, "variant": "release", "owned": "10/10", "strdup": "1"}, got
