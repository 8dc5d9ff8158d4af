"""hakmem modes: the five modes as modes/*.yaml define them — list, show, diff, matrix."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import loader, values
from ..loader import Resolved


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("modes", help="list, show, compare the modes (from modes/*.yaml)",
                       description=__doc__)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run, modes_cmd="list")
    msub = p.add_subparsers(dest="modes_cmd", metavar="ACTION")
    s = msub.add_parser("list", help="every mode with its one-line description (the default)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s = msub.add_parser("show", help="one mode: features and the effective default of each knob")
    s.add_argument("mode")
    s.add_argument("--all", action="store_true", help="also list knobs of compiled-out features")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s = msub.add_parser("diff", help="features and knob defaults that differ between two modes")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s = msub.add_parser("matrix", help="features x modes table")
    s.add_argument("--markdown", action="store_true", help="as a Markdown table")
    s.add_argument("--json", action="store_true", help="machine-readable output")


def _fmt(r: Resolved, key: str) -> str:
    v = values.format_value(r.option(key), r.values[key])
    return v if v != "" else '""'


def _table(rows: list[list[str]], header: list[str] | None = None) -> str:
    allrows = ([header] if header else []) + rows
    widths = [max(len(r[i]) for r in allrows) for i in range(len(allrows[0]))]
    out = []
    for n, r in enumerate(allrows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if header and n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _resolve(name: str) -> Resolved:
    return loader.resolve_mode(name)


def _products(mode: str) -> dict[str, list[str]]:
    """What the build makes for the mode, per variant: the .so, and the .a where malloc is ours."""
    return {v: [f"out/{mode}/{v}/libhakmem.so"] + ([f"out/{mode}/{v}/libhakmem.a"] if spec.interpose else [])
            for v, spec in loader.load_variants().items()}


def _show(r: Resolved, show_all: bool, as_json: bool) -> str:
    opts = r.options.options
    products = _products(r.name)
    if as_json:
        data: dict[str, Any] = {
            "mode": r.name, "doc": r.doc, "features": r.features, "products": products,
            "knobs": {o.env: {"value": values.format_value(o, r.values[o.key]),
                              "default": values.format_value(o, o.default),
                              "feature": o.feature, "compiled_in": r.features[o.feature],
                              "overridden": o.key in r.overridden}
                      for o in opts}}
        return json.dumps(data, indent=2)
    lines = [f"mode {r.name}: {r.doc}",
             "features compiled in: " + ", ".join(f for f, on in r.features.items() if on),
             "features compiled out: " + (", ".join(f for f, on in r.features.items() if not on)
                                          or "none"),
             f"built as: out/{r.name}/<variant>/libhakmem.so ({', '.join(products)}); libhakmem.a "
             f"beside it for static linking ({', '.join(v for v, f in products.items() if len(f) > 1)})",
             ""]
    rows = []
    for o in opts:
        on = r.features[o.feature]
        if not on and not show_all:
            continue
        note = "mode default" if o.key in r.overridden else ""
        if o.preset:
            note = "this mode"
        if not on:
            note = f"compiled out ({o.feature})"
        rows.append([o.env, _fmt(r, o.key), o.feature, note])
    lines.append(_table(rows, ["VARIABLE", "DEFAULT", "FEATURE", "NOTE"]))
    hidden = sum(1 for o in opts if not r.features[o.feature])
    if hidden and not show_all:
        lines.append(f"({hidden} knobs of compiled-out features not shown; --all lists them)")
    return "\n".join(lines)


def _diff(a: Resolved, b: Resolved, as_json: bool) -> str:
    feats = [f for f in a.features if a.features[f] != b.features[f]]
    knobs = []
    only: dict[str, int] = {a.name: 0, b.name: 0}
    for o in a.options.options:
        if o.preset:
            continue
        ia, ib = a.features[o.feature], b.features[o.feature]
        if ia != ib:
            only[a.name if ia else b.name] += 1
            continue
        if ia and _fmt(a, o.key) != _fmt(b, o.key):
            knobs.append((o.env, _fmt(a, o.key), _fmt(b, o.key)))
    if as_json:
        return json.dumps({"a": a.name, "b": b.name,
                           "features": {f: [a.features[f], b.features[f]] for f in feats},
                           "knobs": {k: [x, y] for k, x, y in knobs},
                           "knobs_only_in": only}, indent=2)
    lines = [f"{a.name} vs {b.name}"]
    if feats:
        lines += ["", _table([[f, "on" if a.features[f] else "-", "on" if b.features[f] else "-"]
                              for f in feats], ["FEATURE", a.name, b.name])]
    else:
        lines.append("same features")
    if knobs:
        lines += ["", _table([list(k) for k in knobs], ["VARIABLE", a.name, b.name])]
    else:
        lines.append("same defaults for the knobs both compile in")
    for m, n in only.items():
        if n:
            lines.append(f"{n} knobs only in {m} (its extra features; `hakmem modes show {m}`)")
    return "\n".join(lines)


def _matrix(modes: dict[str, Resolved], markdown: bool, as_json: bool) -> str:
    names = list(modes)
    feats = list(next(iter(modes.values())).features)
    if as_json:
        return json.dumps({f: {m: modes[m].features[f] for m in names} for f in feats}, indent=2)
    rows = [[f] + ["on" if modes[m].features[f] else "-" for m in names] for f in feats]
    if markdown:
        out = ["| feature | " + " | ".join(names) + " |",
               "|---|" + "|".join(":-:" for _ in names) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    return _table(rows, ["FEATURE"] + names)


def run(args: argparse.Namespace) -> int:
    as_json = getattr(args, "json", False)
    try:
        names = loader.mode_names()
        cmd = args.modes_cmd or "list"
        if cmd == "list":
            modes = loader.resolve_all()
            default = loader.default_mode()
            if as_json:
                print(json.dumps({m: {"doc": r.doc, "features": r.enabled_features,
                                      "default": m == default} for m, r in modes.items()},
                                 indent=2))
            else:
                print(_table([[m + (" (default)" if m == default else ""),
                               str(len(r.enabled_features)), r.doc] for m, r in modes.items()],
                             ["MODE", "FEATURES", "DESCRIPTION"]))
        elif cmd == "show":
            print(_show(_resolve(args.mode), args.all, as_json))
        elif cmd == "diff":
            print(_diff(_resolve(args.a), _resolve(args.b), as_json))
        elif cmd == "matrix":
            print(_matrix({m: _resolve(m) for m in names}, args.markdown, as_json))
    except loader.ConfigError as exc:
        print(f"hakmem modes: {exc}", file=sys.stderr)
        return 2
    return 0
