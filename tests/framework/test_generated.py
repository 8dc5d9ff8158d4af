"""generated/<mode>/: the C option table, presets, features, hak_cfg and mode.json agree
with modes/ as the loader reads it, and the generated C compiles without a warning."""
from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from support import MODES, ROOT
from hakmem import loader, render, values

HERE = Path(__file__).resolve().parent
C_TYPES = ["bool", "int", "size", "float", "choice", "list", "string"]   # hak_opt_type_t order


@pytest.fixture(scope="module")
def tables(built, tmp_path_factory):
    out = {}
    d = tmp_path_factory.mktemp("dump")
    for m in MODES:
        gen = ROOT / "generated" / m
        exe = d / f"dump_{m}"
        subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-pedantic-errors",
                        f"-I{ROOT / 'src'}", f"-I{gen}", str(HERE / "c" / "dump_table.c"),
                        str(gen / "hak_options.c"), "-o", str(exe)], check=True)
        out[m] = json.loads(subprocess.run([str(exe)], check=True, capture_output=True,
                                           text=True).stdout)
    return out


def _c_value(o, v):
    if o.type == "bool":
        return int(v)
    if o.type == "choice":
        return o.choices.index(v)
    return v


@pytest.mark.parametrize("mode", MODES)
def test_option_table_matches_yaml(tables, mode):
    t = tables[mode]
    res = loader.resolve_mode(mode)
    opts = res.options.options
    assert t["mode"] == mode and t["count"] == len(opts) == len(t["options"])
    for o, c in zip(opts, t["options"]):
        assert (c["key"], c["env"], C_TYPES[c["type"]], c["feature"]) == (o.key, o.env, o.type, o.feature)
        assert c["compiled_in"] == int(res.features[o.feature])
        assert (c["min"], c["max"]) == ((o.min, o.max) if o.min is not None else (0, 0))
        assert c["choices"] == o.choices and c["format"] == o.format and c["doc"] == o.doc
        assert c["aliases"] == ([a.env for a in o.aliases] or None)
        assert c["sunset"] == (o.aliases[0].sunset if o.aliases else None)
        assert c["def"] == values.format_value(o, res.values[o.key])
        assert values.parse_value(o, c["def"]) == res.values[o.key]
        want = _c_value(o, res.values[o.key])
        if o.type == "float":
            assert math.isclose(c["value"], want), o.key
        else:
            assert c["value"] == want, o.key


@pytest.mark.parametrize("mode", MODES)
def test_presets_hold_every_mode(tables, mode):
    presets = tables[mode]["presets"]
    assert [p["name"] for p in presets] == MODES
    for p in presets:
        res = loader.resolve_mode(p["name"])
        assert p["features"] == res.enabled_features
        assert p["values"] == [[o.env, values.format_value(o, res.values[o.key])]
                               for o in res.options.options]


@pytest.mark.parametrize("mode", MODES)
def test_features_and_mode_json(tables, mode):
    res = loader.resolve_mode(mode)
    opts = res.options
    assert tables[mode]["features"] == [[f, int(res.features[f]), opts.features[f]] for f in opts.features]
    data = json.loads((ROOT / "generated" / mode / "mode.json").read_text())
    assert data["mode"] == mode and data["features"] == res.features
    assert data["values"] == {k: (bool(v) if opts.option(k).type == "bool" else v)
                              for k, v in res.values.items()}
    assert "do not edit" in data["_generated"]


@pytest.mark.parametrize("mode", MODES)
def test_header_switches(built, mode):
    text = (ROOT / "generated" / mode / "hak_mode.h").read_text()
    res = loader.resolve_mode(mode)
    assert text.startswith("/* generated from modes/options.yaml, modes/%s.yaml" % mode)
    assert f'#define HAK_MODE_NAME "{mode}"' in text
    for f, on in res.features.items():
        assert f"#define HAK_FEATURE_{f.upper()} {int(on)} " in text


def test_generated_files_are_current(built):
    """What SCons left in generated/ is what the renderer produces now."""
    for m in MODES:
        for filename in render.MODE_FILES:
            assert (ROOT / "generated" / m / filename).read_text() == render.render_mode_file(m, filename)


def test_write_if_changed(tmp_path):
    p = tmp_path / "x.h"
    assert render.write_if_changed(p, "a\n")
    before = p.stat().st_mtime_ns
    assert not render.write_if_changed(p, "a\n")
    assert p.stat().st_mtime_ns == before
    assert render.write_if_changed(p, "b\n") and p.read_text() == "b\n"
    assert list(tmp_path.iterdir()) == [p]
