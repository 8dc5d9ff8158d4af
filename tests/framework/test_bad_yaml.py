"""Each class of broken YAML stops the loader, the renderer and SCons with FILE: KEY: REASON.

A fixture is a directory under fixtures/: its `*.yaml` files replace (or add) files
in a temporary copy of modes/, `options.append.yaml` is appended to the copy's
options.yaml (whose `options:` list is last), and `expect.yaml` names the file,
key and reason expected, plus optional render_args / scons_args.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import support
from support import ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expect.yaml").exists())


def apply_fixture(name: str, modes: Path) -> dict:
    fixture = FIXTURES / name
    for f in fixture.glob("*.yaml"):
        if f.name == "expect.yaml":
            continue
        if f.name == "options.append.yaml":
            with open(modes / "options.yaml", "a", encoding="utf-8") as out:
                out.write("\n" + f.read_text(encoding="utf-8"))
        else:
            shutil.copy(f, modes / f.name)
    return yaml.safe_load((fixture / "expect.yaml").read_text())


def assert_reported(stderr: str, expect: dict) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [l for l in stderr.splitlines()
             if l.startswith(f"{expect['file']}: {expect['key']}") and expect["reason"] in l]
    assert lines, f"expected '{expect['file']}: {expect['key']}…: …{expect['reason']}…' in:\n{stderr}"


@pytest.fixture
def modes_copy(tmp_path) -> Path:
    dest = tmp_path / "modes"
    shutil.copytree(ROOT / "modes", dest)
    return dest


def test_real_modes_are_valid():
    proc = subprocess.run([sys.executable, "-m", "hakmem.render"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "tools")})
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("case", CASES)
def test_render_reports(case, modes_copy):
    expect = apply_fixture(case, modes_copy)
    proc = subprocess.run([sys.executable, "-m", "hakmem.render", "--modes-dir", str(modes_copy),
                           *expect.get("render_args", [])],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "tools")})
    assert proc.returncode != 0
    assert_reported(proc.stderr, expect)


@pytest.mark.parametrize("case", CASES)
def test_scons_reports(case, tmp_path):
    tree = support.copy_framework(tmp_path / "tree")
    expect = apply_fixture(case, tree / "modes")
    proc = support.scons("-Q", "-n", *expect.get("scons_args", []), cwd=tree)
    assert proc.returncode != 0
    assert_reported(proc.stderr, expect)
    assert not (tree / "out" / "fast").exists()
