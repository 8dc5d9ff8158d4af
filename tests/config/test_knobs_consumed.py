"""No knob is parsed and ignored: every knob of options.yaml is read by the allocator
(src/ outside src/config references hak_cfg.<key> or HAK_OPT_<KEY>). Generated from
options.yaml; the behaviour each knob must show is checked by the allocator's own tests."""
from __future__ import annotations

import re

import pytest

from cfgutil import ROOT
from hakmem import loader


def _allocator_source() -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in sorted((ROOT / "src").rglob("*.[ch]"))
                     if "config" not in p.relative_to(ROOT / "src").parts[:1])


SOURCE = _allocator_source()


@pytest.mark.parametrize("opt", loader.load_options().options, ids=lambda o: o.env)
def test_knob_is_read_by_the_allocator(opt):
    if opt.preset:
        return                                   # HAKMEM_MODE is consumed by src/config itself
    pattern = rf"hak_cfg\.{opt.key}\b|HAK_OPT_{opt.key.upper()}\b"
    assert re.search(pattern, SOURCE), f"{opt.env}: nothing in src/ reads hak_cfg.{opt.key}"
