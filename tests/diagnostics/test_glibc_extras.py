"""glibc's extras answer for hakmem: malloc_stats (a summary on stderr), malloc_info (XML in glibc's
shape) and mallopt (the options that map to knobs; docs/DIAGNOSTICS.md), driven by c/glibc_extras.c
under LD_PRELOAD of release/debug and through the hak_* API in asan/tsan. The glibc control runs
show that the checks tell hakmem's answers from glibc's."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import cbuild
import diagbuild

VARIANTS = ("release", "debug", "asan", "tsan")
CYCLE = 4 << 20   # the driver's freed block


def _run(mode, variant, *args):
    res = cbuild.run_driver("glibc_extras", mode, variant, list(args), timeout=120,
                            src_dir=diagbuild.CDIR, build=diagbuild.BUILD / "extras")
    cbuild.assert_clean(res, mode, variant)
    return res


def _infos(res) -> dict[str, int]:
    return {k: int(v) for k, v in (l.split("=", 1) for l in res.info(""))}


# ---- malloc_stats ---------------------------------------------------------------------------

def _sections(text: str) -> dict[str, dict[str, int]]:
    """malloc_stats text -> {section header: {label: first number}}."""
    out: dict[str, dict[str, int]] = {}
    cur = out.setdefault("", {})
    for line in text.splitlines():
        m = re.match(r"^(\S.*?)\s*=\s*(\d+)", line)
        if m:
            cur[m.group(1).strip()] = int(m.group(2))
        elif line.endswith(":") or line.startswith("Tier ") or line.startswith("Small tiers"):
            cur = out.setdefault(line.split(" (")[0].rstrip(":"), {})
    return out


def _stats_reports(res) -> tuple[str, str]:
    err = res.stderr
    assert "@@ before" in err and "@@ after" in err and "@@ end" in err, res.describe()
    before = err.split("@@ before\n", 1)[1].split("@@ after\n", 1)[0]
    after = err.split("@@ after\n", 1)[1].split("@@ end\n", 1)[0]
    return before, after


def check_stats(mode, before: str, after: str, held: dict[str, int]) -> None:
    assert after.startswith(f"hakmem malloc_stats (mode {mode}, "), after
    b, a = _sections(before), _sections(after)
    grew = a["Total"]["in use bytes"] - b["Total"]["in use bytes"]
    assert grew >= held["held"], (grew, held, after)
    assert a["Total"]["system bytes"] >= a["Total"]["in use bytes"]
    assert a["Tier LARGE"]["in use bytes"] - b["Tier LARGE"]["in use bytes"] >= held["held.large"]
    assert a["Tier LARGE"]["mmap regions"] - b["Tier LARGE"]["mmap regions"] >= 3
    assert a["Small tiers"]["SuperSlabs"] >= 1
    if diagbuild.features(mode).get("stats"):
        assert a["Tier TINY"]["in use bytes"] - b["Tier TINY"]["in use bytes"] >= held["held.tiny"]
        assert a["Tier MID"]["in use bytes"] - b["Tier MID"]["in use bytes"] >= held["held.mid"]
        assert a["Tier TINY"]["allocs"] - b["Tier TINY"]["allocs"] >= 1000
    else:
        assert "Tier TINY" not in a and "compiled out" in after.splitlines()[0]


@pytest.mark.parametrize("mode,variant", cbuild.cases(VARIANTS))
def test_malloc_stats(mode, variant):
    res = _run(mode, variant, "stats")
    check_stats(mode, *_stats_reports(res), _infos(res))


def test_malloc_stats_glibc_control():
    res = _run(None, cbuild.GLIBC, "stats")
    with pytest.raises(AssertionError):
        check_stats("balanced", *_stats_reports(res), _infos(res))


# ---- malloc_info ----------------------------------------------------------------------------

def _totals(el) -> dict[str, dict[str, int]]:
    return {t.get("type"): {k: int(v) for k, v in t.attrib.items() if k != "type"}
            for t in el.findall("total")}


def check_info(mode, before: ET.Element, after: ET.Element, held: dict[str, int]) -> None:
    assert after.tag == "malloc" and after.get("allocator") == "hakmem" and after.get("mode") == mode
    heaps = {h.get("name"): h for h in after.findall("heap")}
    assert list(heaps) == ["TINY", "POOL", "MID", "LARGE"]
    tb, ta = _totals(before), _totals(after)
    assert ta["in_use"]["size"] >= held["held"]
    assert ta["in_use"]["size"] - tb["in_use"]["size"] >= held["held"]
    assert ta["in_use"]["size"] == ta["small"]["size"] + ta["mmap"]["size"]
    current = int(after.find("system[@type='current']").get("size"))
    assert current >= ta["in_use"]["size"]
    assert int(after.find("system[@type='max']").get("size")) >= current
    assert int(after.find("aspace[@type='total']").get("size")) == current
    assert ta["superslab"]["count"] >= 1
    large = _totals(heaps["LARGE"])["mmap"]
    assert large["count"] >= 3 and large["size"] >= held["held.large"]
    has_bigcache = diagbuild.features(mode).get("bigcache")
    assert (heaps["LARGE"].find("bigcache") is not None) == bool(has_bigcache)
    if diagbuild.features(mode).get("stats"):
        rows = lambda root, name: [r for h in root.findall("heap") if h.get("name") == name
                                   for r in h.find("sizes").findall("size")]
        live = lambda root, name: sum(int(r.get("count")) for r in rows(root, name))
        assert live(after, "TINY") - live(before, "TINY") >= 1000
        assert live(after, "MID") - live(before, "MID") >= 40
        for r in rows(after, "TINY") + rows(after, "MID"):
            assert int(r.get("from")) <= int(r.get("to")) and int(r.get("total")) == int(r.get("count")) * int(r.get("to"))
        covered = sum(_totals(h)["in_use"]["size"] for h in after.findall("heap")[:3]) + large["size"]
        assert covered >= held["held"]
    else:
        assert all(len(h.find("sizes")) == 0 for h in after.findall("heap"))


@pytest.mark.parametrize("mode,variant", cbuild.cases(VARIANTS))
def test_malloc_info(mode, variant, tmp_path):
    before, after = tmp_path / "before.xml", tmp_path / "after.xml"
    res = _run(mode, variant, "info", str(before), str(after))
    check_info(mode, ET.parse(before).getroot(), ET.parse(after).getroot(), _infos(res))


def test_malloc_info_glibc_control(tmp_path):
    before, after = tmp_path / "before.xml", tmp_path / "after.xml"
    res = _run(None, cbuild.GLIBC, "info", str(before), str(after))
    root = ET.parse(after).getroot()          # glibc's is XML too, describing its arenas
    with pytest.raises((AssertionError, KeyError)):
        check_info("balanced", ET.parse(before).getroot(), root, _infos(res))


# ---- mallopt --------------------------------------------------------------------------------

def _mapped_params(doc: Path) -> set[str]:
    """The options docs/DIAGNOSTICS.md lists as applied (a `M_…` row whose result is 1)."""
    rows = re.findall(r"^\| `(M_[A-Z_]+)` \|.*\| (\d) \|$", doc.read_text(), re.M)
    return {name for name, result in rows if result == "1"}


@pytest.mark.parametrize("mode,variant", cbuild.cases(VARIANTS))
def test_mallopt(mode, variant, tmp_path):
    dump = tmp_path / "config.json"
    res = _run(mode, variant, "mallopt", str(dump))
    i = _infos(res)
    for k, v in i.items():
        if k.startswith(("bad.", "unmapped.")):
            assert v == 0, (k, res.describe())
    options = json.loads(dump.read_text())["options"]
    if not diagbuild.features(mode).get("bigcache"):
        assert all(v == 0 for k, v in i.items() if k.startswith("set.")), i
        if diagbuild.features(mode).get("quarantine"):
            assert i["cycle.default"] < CYCLE       # held back, poisoned, for delayed reuse
        else:
            assert i["cycle.default"] >= CYCLE      # nothing keeps a freed large block here
        assert options["bigcache_max_block"]["compiled_in"] is False
        return
    assert all(v == 1 for k, v in i.items() if k.startswith("set.")), i
    assert i["cycle.default"] < CYCLE                # kept mapped for reuse
    assert i["cycle.mmap_threshold"] >= CYCLE        # above the threshold: back to the kernel on free
    assert i["cycle.trim_threshold"] >= CYCLE        # nothing may stay cached
    assert i["bigcache.max_size.never"] == 65536 << 20
    assert i["bigcache.max_size"] == 8 << 20
    assert options["bigcache_max_block"] == {**options["bigcache_max_block"], "value": 32 << 20, "source": "mallopt"}
    assert options["bigcache_max_mb"] == {**options["bigcache_max_mb"], "value": 8, "source": "mallopt"}
    # the options the driver applied are exactly those the docs' table says are applied
    applied = {"M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD"}
    assert _mapped_params(diagbuild.ROOT / "docs" / "DIAGNOSTICS.md") == applied
    assert not applied & {k.split(".", 1)[1] for k in i if k.startswith("unmapped.")}
