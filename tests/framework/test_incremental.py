"""Incremental builds: an edit to one mode's YAML rebuilds that mode, not the others.

Works on a private copy of the tree (release variant only) so the real out/ is untouched.
"""
from __future__ import annotations

import os
from pathlib import Path

import support
from support import MODES

OTHER = [m for m in MODES if m != "fast"]


def snapshot(tree: Path) -> dict[str, int]:
    """mtime of every build product and generated file, by relative path."""
    out = {}
    for top in ("out", "generated"):
        for p in (tree / top).rglob("*"):
            if p.is_file() and p.suffix in (".os", ".so", ".h", ".c", ".json"):
                out[p.relative_to(tree).as_posix()] = p.stat().st_mtime_ns
    return out


def changed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {k for k, v in after.items() if before.get(k) != v}


def build(tree: Path) -> str:
    proc = support.scons("-Q", "-j2", "mode=all", "variant=release", "--debug=explain", cwd=tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_incremental_builds(tmp_path):
    """One sequence (so pytest-xdist keeps it on one worker): build, then edit and rebuild."""
    tree = support.copy_framework(tmp_path / "tree")
    build(tree)

    # A second build does nothing.
    before = snapshot(tree)
    log = build(tree)
    assert "gcc" not in log and not changed(before, snapshot(tree)), log

    # Touching a mode file without changing it rebuilds nothing (content-timestamp decider).
    fast = tree / "modes" / "fast.yaml"
    st = fast.stat()
    os.utime(fast, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    log = build(tree)
    assert "gcc" not in log and not changed(before, snapshot(tree)), log

    # Editing the mode's doc touches that mode only (the doc is in its header's banner comment).
    before = snapshot(tree)
    edit(fast, 'doc: "', 'doc: "(edited) ')
    log = build(tree)
    diff = changed(before, snapshot(tree))
    assert "generated/fast/hak_mode.h" in diff, log
    assert not {p for p in diff if not p.startswith(("out/fast/", "generated/fast/"))}, log

    # Changing a default rebuilds that mode; in the others only the option table (which embeds
    # all five presets for HAKMEM_MODE) is re-rendered and recompiled, and their headers stay.
    before = snapshot(tree)
    edit(fast, "defaults:\n", "defaults:\n  tiny_tls_cap: 96\n")
    log = build(tree)
    diff = changed(before, snapshot(tree))
    assert {"generated/fast/hak_mode.h", "generated/fast/hak_options.c",
            "out/fast/release/generated/hak_options.os", "out/fast/release/libhakmem.so"} <= diff, log
    assert "#define HAK_DEFAULT_TINY_TLS_CAP 96LL" in (tree / "generated/fast/hak_mode.h").read_text()
    for m in OTHER:
        mine = {p for p in diff if p.startswith((f"out/{m}/", f"generated/{m}/"))}
        assert mine <= {f"generated/{m}/hak_options.c", f"out/{m}/release/generated/hak_options.os",
                        f"out/{m}/release/libhakmem.so"}, (m, sorted(mine), log)
        assert f"generated/{m}/hak_mode.h" not in diff

    # A template edit re-renders every mode.
    before = snapshot(tree)
    edit(tree / "templates" / "hak_mode.h.j2", "#endif /* HAK_MODE_H */", "#endif /* HAK_MODE_H (edited) */")
    build(tree)
    diff = changed(before, snapshot(tree))
    assert all(f"generated/{m}/hak_mode.h" in diff for m in MODES)

    # `scons -c` removes products and generated/, but keeps the committed configuration guide.
    proc = support.scons("-Q", "-c", "mode=all", "variant=release", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    assert not list((tree / "out").rglob("*.so")) and not list((tree / "out").rglob("*.os"))
    assert not any((tree / "generated").rglob("*.h"))
    assert (tree / "docs" / "CONFIGURATION.md").exists()
