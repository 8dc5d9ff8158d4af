"""Render validated mode data through the jinja2 templates into generated files.

    python -m hakmem.render                      validate modes/ (exit 2 with FILE: KEY: REASON)
    python -m hakmem.render --mode fast          write generated/fast/{hak_mode.h,hak_options.c,mode.json}
    python -m hakmem.render --mode all --out DIR
    python -m hakmem.render --docs docs/CONFIGURATION.md [--check]

Files are written only when their content changes (temp file + rename), so an
unchanged mode keeps its timestamps and nothing downstream rebuilds.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

import jinja2

from . import ROOT, loader, values
from .schema import ConfigError

TEMPLATES_DIR = ROOT / "templates"
GENERATED_DIR = ROOT / "generated"
DOCS_FILE = ROOT / "docs" / "CONFIGURATION.md"

# generated file -> (template, needs every mode's YAML (presets), not only its own)
MODE_FILES = {
    "hak_mode.h": ("hak_mode.h.j2", False),
    "hak_options.c": ("hak_options.c.j2", True),
    "mode.json": ("mode.json.j2", False),
}
DOCS_TEMPLATE = "CONFIGURATION.md.j2"
PC_TEMPLATE = "hakmem.pc.j2"
RUNNER_TEMPLATE = "hakmem-run.sh.j2"
GENERATOR_MODULES = ["__init__.py", "schema.py", "values.py", "loader.py", "render.py"]

C_TYPE = {"bool": "HAK_T_BOOL", "int": "HAK_T_INT", "size": "HAK_T_SIZE", "float": "HAK_T_FLOAT",
          "choice": "HAK_T_CHOICE", "list": "HAK_T_LIST", "string": "HAK_T_STRING"}


# --------------------------------------------------------------------------- banner

def banner_text(sources: Iterable[Path | str]) -> str:
    """The one "do not edit" banner every generated file carries."""
    names = ", ".join(_rel(s) for s in sources)
    return f"generated from {names} by tools/hakmem/render.py — do not edit"


def with_banner(kind: str, body: str, sources: Iterable[Path | str]) -> str:
    """Put the banner where a file of `kind` can hold it (the only place it is injected)."""
    text = banner_text(sources)
    if kind == "c":
        return f"/* {text} */\n{body}"
    if kind == "md":
        return f"<!-- {text} -->\n{body}"
    if kind == "hash":
        return f"# {text}\n{body}"
    if kind == "sh":                   # the #! line must stay first
        shebang, _, rest = body.partition("\n")
        return f"{shebang}\n# {text}\n{rest}"
    if kind == "json":
        head, brace, rest = body.partition("{")
        return f"{head}{brace}\n  \"_generated\": {json.dumps(text, ensure_ascii=False)},{rest}"
    raise ValueError(f"unknown banner kind {kind!r}")


def _kind(filename: str) -> str:
    suffix = Path(filename).suffix
    return {".h": "c", ".c": "c", ".md": "md", ".json": "json", ".pc": "hash"}[suffix]


def _rel(p: Path | str) -> str:
    p = Path(p)
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return f"{p.parent.name}/{p.name}"


# --------------------------------------------------------------------------- jinja

def _c_str(s: Any) -> str:
    out = []
    for ch in str(s):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) > 0x7E:
            out.append("".join(f"\\{b:03o}" for b in ch.encode()))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _c_comment(s: Any) -> str:
    return str(s).replace("*/", "* /").replace("/*", "/ *")


def _md(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["c_str"] = _c_str
    env.filters["c_comment"] = _c_comment
    env.filters["md"] = _md
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["sh"] = lambda v: shlex.quote(str(v))
    return env


_ENV: jinja2.Environment | None = None


def render_template(name: str, sources: Iterable[Path | str], kind: str, **ctx: Any) -> str:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    body = _ENV.get_template(name).render(**ctx)
    return with_banner(kind, body, list(sources) + [TEMPLATES_DIR / name])


# --------------------------------------------------------------------------- views

def _c_number(o: loader.Option, v: Any) -> str:
    if v is None:
        return "0"
    return repr(float(v))


def _c_default(o: loader.Option, v: Any) -> str:
    if o.type == "bool":
        return "1" if v else "0"
    if o.type in ("int", "size"):
        return f"{int(v)}LL"
    if o.type == "float":
        return repr(float(v))
    if o.type == "choice":
        return f"HAK_{o.key.upper()}_{str(v).upper()}"
    return _c_str(v)


def _c_decl(o: loader.Option) -> str:
    if o.type in ("bool", "choice"):
        return f"int {o.key}"
    if o.type in ("int", "size"):
        return f"long long {o.key}"
    if o.type == "float":
        return f"double {o.key}"
    return f"char {o.key}[HAK_CFG_TEXT_MAX]"


def _json_value(o: loader.Option, v: Any) -> Any:
    return bool(v) if o.type == "bool" else v


def option_views(res: loader.Resolved) -> list[dict[str, Any]]:
    out = []
    for o in res.options.options:
        v = res.values[o.key]
        out.append({
            "key": o.key, "KEY": o.key.upper(), "env": o.env, "type": o.type,
            "feature": o.feature, "compiled_in": res.features[o.feature],
            "choices": o.choices, "format": o.format, "min": o.min, "max": o.max,
            "c_type": C_TYPE[o.type], "c_min": _c_number(o, o.min), "c_max": _c_number(o, o.max),
            "c_default": _c_default(o, v), "c_decl": _c_decl(o),
            "value": _json_value(o, v), "def_text": values.format_value(o, v),
            "aliases": o.aliases, "alias_names": [a.env for a in o.aliases],
            "sunset": o.aliases[0].sunset if o.aliases else None,
            "overridden": o.key in res.overridden, "doc": o.doc,
        })
    return out


def feature_views(res: loader.Resolved) -> list[dict[str, Any]]:
    return [{"name": f, "NAME": f.upper(), "on": int(on), "on_bool": on,
             "doc": res.options.features[f]} for f, on in res.features.items()]


def preset_views(all_res: dict[str, loader.Resolved]) -> list[dict[str, Any]]:
    out = []
    for name, r in all_res.items():
        vals = [(o.env, values.format_value(o, r.values[o.key])) for o in r.options.options]
        out.append({"name": name, "features": r.enabled_features, "settings": vals})
    return out


# --------------------------------------------------------------------------- renderers

def mode_sources(name: str, filename: str, modes_dir: Path | None = None) -> list[Path]:
    """The YAML files `generated/<name>/<filename>` is derived from."""
    d = loader._dir(modes_dir)
    if MODE_FILES[filename][1]:
        return loader.source_files(d)
    return [d / loader.OPTIONS_FILE, d / f"{name}.yaml"]


def render_mode_file(name: str, filename: str, modes_dir: Path | None = None) -> str:
    template, every_mode = MODE_FILES[filename]
    res = loader.resolve_mode(name, modes_dir)
    ctx: dict[str, Any] = {"mode": res, "options": option_views(res), "features": feature_views(res)}
    if every_mode:
        ctx["presets"] = preset_views(loader.resolve_all(modes_dir))
    return render_template(template, mode_sources(name, filename, modes_dir), _kind(filename), **ctx)


def _range_text(o: loader.Option) -> str:
    if o.type == "choice":
        return ", ".join(f"`{c}`" for c in o.choices or [])
    if o.type == "bool":
        return "0, 1"
    if o.type == "size":
        return f"{values.format_size(int(o.min))} – {values.format_size(int(o.max))}"
    if o.type in ("int", "float"):
        return f"{o.min} – {o.max}"
    if o.format == "float_list":
        return f"each {o.min} – {o.max}"
    if o.format == "class_override":
        return "`C<class>:<cap>:<refill>`, …"
    return "text"


def _shown_value(o: loader.Option, v: Any) -> str:
    if o.type == "size":
        return f"`{values.format_size(int(v))}`"
    text = values.format_value(o, v)
    return f"`{text}`" if text != "" else "(empty)"


def render_docs(modes_dir: Path | None = None) -> str:
    opts = loader.load_options(modes_dir)
    all_res = loader.resolve_all(modes_dir)
    variants = loader.load_variants(modes_dir)
    modes = [{"name": n, "doc": r.doc, "features": r.features} for n, r in all_res.items()]
    features = []
    for f, doc in opts.features.items():
        rows = []
        for o in opts.options:
            if o.feature != f:
                continue
            if o.preset:
                default, overrides = "the mode the `.so` was built as", "–"
            else:
                default = _shown_value(o, o.default)
                overrides = "; ".join(f"{n}: {_shown_value(o, r.values[o.key])}"
                                      for n, r in all_res.items() if o.key in r.overridden) or "–"
            type_text = f"list ({o.format})" if o.type == "list" else o.type
            rows.append({"env": o.env, "type_text": type_text, "range_text": _range_text(o),
                         "default_text": default, "overrides_text": overrides, "doc": o.doc})
        features.append({"name": f, "doc": doc, "options": rows})
    deprecated = sorted(({"old": a.env, "new": o.env, "sunset": a.sunset}
                         for o in opts.options for a in o.aliases), key=lambda d: d["old"])
    fmt = {"classes": "C{}–C{}".format(*values.CLASS_OVERRIDE_CLASSES),
           "cap": "{}–{}".format(*values.CLASS_OVERRIDE_CAP),
           "refill": "{}–{}".format(*values.CLASS_OVERRIDE_REFILL),
           "float_list_max": values.FLOAT_LIST_MAX_ITEMS, "text_max": values.TEXT_MAX}
    sources = loader.source_files(modes_dir) + [loader._dir(modes_dir) / loader.VARIANTS_FILE]
    return render_template(DOCS_TEMPLATE, sources, "md", modes=modes, features=features,
                           variants=list(variants.values()), deprecated=deprecated, fmt=fmt,
                           effects=effect_views(modes_dir))


_EXPECT_TEXT = {"increases": "rises", "decreases": "falls", "differs": "changes",
                "matches": "appears"}


def effect_views(modes_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per knob `effect:` for the docs (unobserved ones say why)."""
    rows = []
    for e in loader.load_effects(modes_dir).values():
        if e.unobserved:
            rows.append({"env": e.option.env, "mode": "–", "workload": "–", "set": "–", "extra": "–",
                         "observed": f"not shown yet: {e.unobserved}"})
            continue
        if e.kind == "path":
            what = f"`{e.target}` {_EXPECT_TEXT[e.expect]}"
        elif e.kind == "stderr":
            what = f"stderr line `{e.target}` {_EXPECT_TEXT[e.expect]}"
        else:
            what = f"a file `{e.target}` {_EXPECT_TEXT[e.expect]}"
        extra = ", ".join(f"`{k}={v}`" for k, v in e.env.items()) or "–"
        rows.append({"env": e.option.env, "mode": e.mode, "workload": e.workload, "set": f"`{e.set}`",
                     "extra": extra, "observed": what})
    return rows


def render_pc(prefix: str, mode: str, version: str) -> str:
    return render_template(PC_TEMPLATE, [], "hash", prefix=prefix, mode=mode, version=version)


def render_runner(prefix: str, mode: str, variant: str) -> str:
    """bin/hakmem-run with the install prefix, the default mode and the installed variant baked in."""
    return render_template(RUNNER_TEMPLATE, [], "sh", prefix=prefix, mode=mode, variant=variant)


def json_schemas() -> dict[str, str]:
    """JSON Schemas of options.yaml, a mode file and variants.yaml, for editors."""
    from . import schema

    opts = schema.OptionsFile.model_json_schema()
    opts["properties"]["options"]["items"] = schema.Option.model_json_schema()
    out = {"options.schema.json": opts, "mode.schema.json": schema.ModeFile.model_json_schema(),
           "variants.schema.json": schema.VariantsFile.model_json_schema()}
    return {name: json.dumps(s, indent=2, sort_keys=True) + "\n" for name, s in out.items()}


# --------------------------------------------------------------------------- writing

def write_if_changed(path: Path | str, text: str) -> bool:
    """Write `text` to `path` through a temp file + rename, only when it differs. True if written."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def generate_mode(name: str, out_dir: Path | str | None = None, files: Iterable[str] = MODE_FILES,
                  modes_dir: Path | None = None) -> list[Path]:
    """Render the generated files of one mode into out_dir (default generated/<name>); return those written."""
    out = Path(out_dir) if out_dir is not None else GENERATED_DIR / name
    written = []
    for filename in files:
        if write_if_changed(out / filename, render_mode_file(name, filename, modes_dir)):
            written.append(out / filename)
    return written


# --------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hakmem.render", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes-dir", type=Path, default=None, help="directory of options.yaml and the modes")
    ap.add_argument("--mode", action="append", default=[], help="mode to render ('all' for every mode)")
    ap.add_argument("--variant", action="append", default=[], help="check that a variant exists")
    ap.add_argument("--out", type=Path, default=None, help="output root (default: generated/)")
    ap.add_argument("--docs", type=Path, default=None, help="render the configuration guide to this file")
    ap.add_argument("--check", action="store_true", help="with --docs: exit 1 when the file is stale")
    ap.add_argument("--json-schema", type=Path, default=None, metavar="DIR",
                    help="write JSON Schemas of the YAML files (for editors) into DIR")
    args = ap.parse_args(argv)
    try:
        names = loader.mode_names(args.modes_dir)
        loader.resolve_all(args.modes_dir)          # validate everything first
        for v in args.variant:
            if v != "all":
                loader.load_variant(v, args.modes_dir)
        loader.load_variants(args.modes_dir)
        wanted: list[str] = []
        for m in args.mode:
            wanted.extend(names if m == "all" else [loader.load_mode(m, args.modes_dir).name])
        for m in wanted:
            out = (args.out / m) if args.out else None
            for p in generate_mode(m, out, modes_dir=args.modes_dir):
                print(f"wrote {p}")
        if args.docs:
            text = render_docs(args.modes_dir)
            if args.check:
                current = args.docs.read_text(encoding="utf-8") if args.docs.exists() else ""
                if current != text:
                    print(f"{args.docs}: stale; regenerate with `scons docs`", file=sys.stderr)
                    return 1
            elif write_if_changed(args.docs, text):
                print(f"wrote {args.docs}")
        if args.json_schema:
            for name, text in json_schemas().items():
                if write_if_changed(args.json_schema / name, text):
                    print(f"wrote {args.json_schema / name}")
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
