"""`scons install`: what lands in PREFIX, and bin/hakmem-run, which runs a program on an installed
library with nothing but the prefix (clean environment, outside the tree, even with no tree at all)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import servedprog
import support
from support import MODES, ROOT

DEFAULT = support.loader.default_mode()
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}          # no PYTHONPATH, no LD_PRELOAD, no HAKMEM_*


@pytest.fixture(scope="module")
def prefix(built, tmp_path_factory):
    prefix = tmp_path_factory.mktemp("install") / "prefix"
    with support.build_lock():
        proc = support.scons("-Q", "install", f"PREFIX={prefix}", "mode=all", "variant=all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return prefix


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    return servedprog.build(tmp_path_factory.mktemp("served") / "served")


def runner(prefix, *args, env=None, cwd):
    return subprocess.run([str(prefix / "bin" / "hakmem-run"), *map(str, args)], env={**CLEAN_ENV, **(env or {})},
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def test_installed_layout(prefix):
    for m in MODES:
        for name in ("libhakmem.so", "libhakmem.a"):
            assert (prefix / "lib" / "hakmem" / m / name).read_bytes() == \
                (support.OUT / m / "release" / name).read_bytes(), (m, name)
        # the other preloadable variant, for `hakmem-run --variant debug`; sanitizer ones are not
        assert (prefix / "lib" / "hakmem" / m / "debug" / "libhakmem.so").exists()
        assert not (prefix / "lib" / "hakmem" / m / "asan").exists()
    assert (prefix / "lib" / "libhakmem.a").read_bytes() == (support.OUT / DEFAULT / "release" / "libhakmem.a").read_bytes()
    script = prefix / "bin" / "hakmem-run"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n# generated from templates/hakmem-run.sh.j2")
    assert str(ROOT) not in text and str(prefix) in text       # the prefix is baked in, the tree is not


def test_default_mode_serves_the_program(prefix, served, tmp_path):
    stats = tmp_path / "stats.json"
    proc = runner(prefix, served, 200, env={"HAKMEM_STATS_FILE": str(stats)}, cwd=tmp_path)
    got = servedprog.answer(proc)
    assert got == {"mode": DEFAULT, "variant": "release", "owned": "200/200", "strdup": "1"}, got
    import json

    totals = json.loads(stats.read_text())["totals"]               # HAKMEM_* reached the library
    assert totals["allocs"] >= 200


@pytest.mark.parametrize("args", [["--mode", "fast", "--"], ["--mode=fast"], ["--mode", "fast", "--variant", "debug"]],
                         ids=["mode-dashdash", "mode-equals", "debug"])
def test_mode_and_variant(prefix, served, tmp_path, args):
    got = servedprog.answer(runner(prefix, *args, served, 50, cwd=tmp_path))
    variant = "debug" if "debug" in args else "release"
    assert got == {"mode": "fast", "variant": variant, "owned": "50/50", "strdup": "1"}, got


def test_preload_is_prepended_and_hakmem_variables_pass(prefix, tmp_path):
    other = "/lib/x86_64-linux-gnu/libm.so.6"
    proc = runner(prefix, "--mode", "minimal", "sh", "-c", 'printf "%s|%s" "$LD_PRELOAD" "$HAKMEM_MODE"',
                  env={"LD_PRELOAD": other, "HAKMEM_MODE": "fast"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{prefix}/lib/hakmem/minimal/libhakmem.so:{other}|fast"


@pytest.mark.parametrize("args,message", [
    (["--mode", "fastest", "true"], "hakmem-run: unknown mode 'fastest' (installed in {prefix}/lib/hakmem: "
                                    + " ".join(sorted(MODES)) + ")"),
    (["--mode", "../..", "true"], "hakmem-run: unknown mode '../..'"),
    (["--variant", "asan", "true"], f"hakmem-run: variant 'asan' of mode '{DEFAULT}' is not installed "
                                    "(installed: release debug)"),
    (["--mode"], "usage: hakmem-run"),
    ([], "hakmem-run: no program given"),
    (["--frob", "true"], "hakmem-run: unknown option --frob"),
])
def test_usage_errors_exit_2(prefix, tmp_path, args, message):
    proc = runner(prefix, *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message.format(prefix=prefix) in proc.stderr, proc.stderr


def test_program_exit_status_is_kept(prefix, tmp_path):
    assert runner(prefix, "sh", "-c", "exit 7", cwd=tmp_path).returncode == 7
    assert runner(prefix, "/no/such/program", cwd=tmp_path).returncode == 127


def test_runner_works_with_the_tree_gone(served, tmp_path):
    """Build and install from a copy of the tree, delete the copy, then run from the prefix."""
    tree, prefix = support.copy_framework(tmp_path / "tree"), tmp_path / "prefix"
    proc = support.scons("-Q", "-j2", "install", f"PREFIX={prefix}", "mode=minimal", cwd=tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shutil.rmtree(tree)
    got = servedprog.answer(runner(prefix, "--mode", "minimal", served, 20, cwd=tmp_path))
    assert got == {"mode": "minimal", "variant": "release", "owned": "20/20", "strdup": "1"}, got
