"""hakmem modes: list, show, diff, matrix — all derived from modes/*.yaml."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest

from hakmem import cli, loader


def modes_cmd(*args: str):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = cli.main(["modes", *args])
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def test_list_names_every_mode_and_the_default():
    rc, out, _ = modes_cmd()
    assert rc == 0
    lines = out.splitlines()
    names = loader.mode_names()
    assert [ln.split()[0] for ln in lines[2:]] == names
    assert f"{loader.default_mode()} (default)" in out
    rc2, out2, _ = modes_cmd("list")
    assert (rc2, out2) == (rc, out)


def test_list_json():
    rc, out, _ = modes_cmd("list", "--json")
    data = json.loads(out)
    assert list(data) == loader.mode_names()
    for m, r in loader.resolve_all().items():
        assert data[m]["features"] == r.enabled_features


@pytest.mark.parametrize("mode", loader.mode_names())
def test_show_lists_the_knobs_the_mode_compiles_in(mode):
    r = loader.resolve_mode(mode)
    rc, out, _ = modes_cmd("show", mode)
    assert rc == 0
    assert out.startswith(f"mode {mode}: {r.doc}")
    for o in r.options.options:
        present = any(ln.split()[:1] == [o.env] for ln in out.splitlines())
        assert present == r.features[o.feature], o.env
    rc, out, _ = modes_cmd("show", mode, "--all")
    assert all(o.env in out for o in r.options.options)


def test_show_json_matches_the_loader():
    rc, out, _ = modes_cmd("show", "learning", "--json")
    data = json.loads(out)
    r = loader.resolve_mode("learning")
    assert data["features"] == r.features
    assert data["knobs"]["HAKMEM_ALLOC_LEARN"]["value"] == "1"
    assert data["knobs"]["HAKMEM_ALLOC_LEARN"]["overridden"] is True


def test_show_names_the_products_the_build_makes(built):
    rc, out, _ = modes_cmd("show", "fast", "--json")
    products = json.loads(out)["products"]
    assert set(products) == set(loader.load_variants())
    for files in products.values():
        for f in files:
            assert (built.parent / f).exists(), f
    assert products["release"][1:] == ["out/fast/release/libhakmem.a"] and len(products["asan"]) == 1
    rc, out, _ = modes_cmd("show", "fast")
    assert "libhakmem.a beside it for static linking (release, debug)" in out


def test_diff_shows_features_and_defaults_that_differ():
    rc, out, _ = modes_cmd("diff", "learning", "research")
    assert rc == 0
    a, b = loader.resolve_mode("learning"), loader.resolve_mode("research")
    for f in a.features:
        assert (f in out) == (a.features[f] != b.features[f]), f
    assert "HAKMEM_DEBUG_LEVEL" in out          # 0 vs 1 in the mode files
    rc, out, _ = modes_cmd("diff", "fast", "fast", "--json")
    assert json.loads(out)["features"] == {} and json.loads(out)["knobs"] == {}


def test_matrix_is_features_by_modes():
    rc, out, _ = modes_cmd("matrix")
    assert rc == 0
    lines = out.splitlines()
    names = loader.mode_names()
    assert lines[0].split() == ["FEATURE"] + names
    modes = loader.resolve_all()
    feats = list(loader.load_options().features)
    rows = {ln.split()[0]: ln.split()[1:] for ln in lines[2:]}
    assert list(rows) == feats
    for f in feats:
        assert rows[f] == ["on" if modes[m].features[f] else "-" for m in names]
    rc, md, _ = modes_cmd("matrix", "--markdown")
    assert md.splitlines()[0] == "| feature | " + " | ".join(names) + " |"
    rc, js, _ = modes_cmd("matrix", "--json")
    assert json.loads(js)["core"] == {m: True for m in names}


def test_unknown_mode_is_a_usage_error():
    rc, _, err = modes_cmd("show", "fsat")
    assert rc == 2 and "did you mean 'fast'" in err
