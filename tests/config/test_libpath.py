"""hakmem run / config find a mode's library and build it when missing (with a stand-in
scons, so no real build runs here)."""
from __future__ import annotations

import os
import stat

import pytest

from hakmem import libpath


@pytest.fixture
def fake_tree(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "scons.log"
    scons = bin_dir / "scons"
    scons.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{log}"\n'
        'for a in "$@"; do case "$a" in mode=*) m=${a#mode=};; variant=*) v=${a#variant=};; esac; done\n'
        '[ "$m" = broken ] && exit 1\n'
        'mkdir -p "out/$m/$v" && : > "out/$m/$v/libhakmem.so"\n')
    scons.chmod(scons.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(libpath, "ROOT", tmp_path)
    return tmp_path, log


def test_existing_library_is_used_as_is(fake_tree):
    root, log = fake_tree
    so = root / "out" / "fast" / "release" / "libhakmem.so"
    so.parent.mkdir(parents=True)
    so.touch()
    assert libpath.ensure_library("fast", "release") == so
    assert not log.exists()


def test_missing_library_is_built(fake_tree, capsys):
    root, log = fake_tree
    so = libpath.ensure_library("learning", "debug")
    assert so == root / "out" / "learning" / "debug" / "libhakmem.so" and so.exists()
    assert log.read_text().split() == ["-Q", "mode=learning", "variant=debug"]
    assert "building out/learning/debug/libhakmem.so" in capsys.readouterr().err


def test_missing_library_without_build(fake_tree):
    with pytest.raises(FileNotFoundError, match="scons mode=fast variant=release"):
        libpath.ensure_library("fast", "release", build=False)


def test_failed_build_is_reported(fake_tree):
    with pytest.raises(FileNotFoundError, match="failed"):
        libpath.ensure_library("broken", "release")
