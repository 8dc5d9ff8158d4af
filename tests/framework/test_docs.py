"""docs/CONFIGURATION.md is generated from modes/: the committed copy must be current."""
from __future__ import annotations

from support import ROOT
from hakmem import loader, render


def test_configuration_guide_is_current():
    committed = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    assert committed == render.render_docs(), \
        "docs/CONFIGURATION.md is stale: run `scons docs` and commit it"


def test_guide_names_every_knob_and_alias():
    text = render.render_docs()
    for o in loader.load_options().options:
        assert f"`{o.env}`" in text
        for a in o.aliases:
            assert f"| `{a.env}` | `{o.env}` | {a.sunset} |" in text
