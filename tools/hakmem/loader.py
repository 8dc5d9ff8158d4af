"""Load and validate modes/: options, modes, variants; resolve a mode's effective values.

Every failure raises ConfigError naming the file, the key and the reason.
Functions take an optional `modes_dir` (default: <repo>/modes) so tests can
point them at a copy.

    load_options()     -> Options   (.features, .options, .option(key), .by_env(name))
    mode_names()       -> ["minimal", "fast", …]  (the order of the preset knob's choices)
    load_mode(name)    -> Mode      (.name, .doc, .features, .defaults, .file)
    resolve_mode(name) -> Resolved  (.name, .features {feature: bool}, .values {key: value})
    load_variants()    -> {name: Variant}  (.cflags, .linkflags, .defines, .interpose)
    load_effects()     -> {key: KnobEffect}  (each knob's `effect:`, its mode filled in and checked)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import ROOT, values
from .schema import (CORE_FEATURE, ENV_PREFIX, ConfigError, Effect, ModeFile, Option,
                     OptionsFile, VariantsFile)

MODES_DIR = ROOT / "modes"
OPTIONS_FILE = "options.yaml"
VARIANTS_FILE = "variants.yaml"
NOT_MODES = {OPTIONS_FILE, VARIANTS_FILE}

__all__ = ["ConfigError", "Options", "Option", "Mode", "Resolved", "Variant",
           "load_options", "mode_names", "load_mode", "resolve_mode", "resolve_all",
           "load_variants", "load_variant", "default_mode", "source_files",
           "KnobEffect", "load_effects", "STATS_FEATURE"]

STATS_FEATURE = "stats"      # an effect's default mode prefers one that compiles statistics in


# --------------------------------------------------------------------------- results

@dataclass
class Options:
    features: dict[str, str]
    options: list[Option]
    file: str = ""
    workloads: dict[str, str] = field(default_factory=dict)  # knob-effect workload -> doc

    def option(self, key: str) -> Option:
        return self._by_key[key]

    def by_env(self, env: str) -> Option | None:
        """The knob an environment name (canonical or deprecated alias) belongs to."""
        return self._by_env.get(env)

    @property
    def preset(self) -> Option:
        return next(o for o in self.options if o.preset)

    def __post_init__(self) -> None:
        self._by_key = {o.key: o for o in self.options}
        self._by_env = {o.env: o for o in self.options}
        for o in self.options:
            for a in o.aliases:
                self._by_env[a.env] = o


@dataclass
class Mode:
    name: str
    doc: str
    features: list[str]              # as listed in the mode file (core not included)
    defaults: dict[str, Any]         # key -> typed value, overrides only
    file: str = ""


@dataclass
class Resolved:
    name: str
    doc: str
    features: dict[str, bool]        # every feature -> compiled into this mode
    values: dict[str, Any]           # every knob key -> effective default
    options: Options = field(repr=False)
    overridden: list[str] = field(default_factory=list)  # keys the mode file overrides

    def option(self, key: str) -> Option:
        return self.options.option(key)

    def compiled_in(self, key: str) -> bool:
        return self.features[self.option(key).feature]

    @property
    def enabled_features(self) -> list[str]:
        return [f for f, on in self.features.items() if on]


@dataclass
class Variant:
    name: str
    doc: str
    cflags: list[str]
    linkflags: list[str]
    defines: dict[str, Any]          # name -> C token (HAK_VARIANT_NAME -> '"release"')
    interpose: bool


# --------------------------------------------------------------------------- helpers

def _dir(modes_dir: Path | str | None) -> Path:
    return Path(modes_dir) if modes_dir is not None else MODES_DIR


def _shown(path: Path) -> str:
    """A file as error messages show it: relative to the modes dir's parent (modes/x.yaml)."""
    return f"{path.parent.name}/{path.name}"


def _read_yaml(path: Path) -> Any:
    shown = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, "-", "file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(shown, where, f"YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(shown, "-", "expected a mapping at the top level")
    return data


def _pydantic_problems(shown: str, prefix: str, exc: ValidationError) -> list[tuple[str, str, str]]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"] if p != "__root__")
        key = ".".join(p for p in (prefix, loc) if p) or "-"
        msg = e["msg"]
        for lead in ("Value error, ", "Assertion failed, "):
            if msg.startswith(lead):
                msg = msg[len(lead):]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        out.append((shown, key, msg))
    return out


def _read_model(path: Path, model):
    """(the file as messages show it, its top level validated by `model`)."""
    shown = _shown(path)
    try:
        return shown, model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise ConfigError.many(_pydantic_problems(shown, "", exc)) from None


_cache: dict[tuple, Any] = {}


def _cached(tag: str, paths: list[Path], build):
    """build(), memoised on the identity and stat of the files it reads."""
    try:
        stamp = (tag,) + tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    except OSError:
        return build()
    if stamp not in _cache:
        _cache[stamp] = build()
    return _cache[stamp]


# --------------------------------------------------------------------------- options

def load_options(modes_dir: Path | str | None = None) -> Options:
    path = _dir(modes_dir) / OPTIONS_FILE
    return _cached("options", [path], lambda: _load_options(path))


def _load_options(path: Path) -> Options:
    shown, top = _read_model(path, OptionsFile)

    problems: list[tuple[str, str, str]] = []
    opts: list[Option] = []
    seen_env: dict[str, str] = {}
    for i, raw in enumerate(top.options):
        name = raw.get("env") if isinstance(raw, dict) else None
        label = (name[len(ENV_PREFIX):].lower() if isinstance(name, str) and name.startswith(ENV_PREFIX)
                 else f"options[{i}]")
        if isinstance(raw, dict) and "key" in raw:
            problems.append((shown, label, "`key` is derived from `env`; do not write it"))
            continue
        try:
            opt = Option.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(shown, label, exc))
            continue
        if opt.feature not in top.features:
            problems.append((shown, f"{opt.key}.feature", f"unknown feature '{opt.feature}'"))
        if opt.effect is not None:
            problems.extend(_effect_problems(shown, opt, top.workloads))
        for env in [opt.env] + [a.env for a in opt.aliases]:
            if env in seen_env:
                problems.append((shown, opt.key, f"{env} is already declared by {seen_env[env]}"))
            seen_env[env] = opt.key
        opts.append(opt)

    presets = [o for o in opts if o.preset]
    if not problems and len(presets) != 1:
        problems.append((shown, "preset", f"exactly one knob must have `preset: true` ({len(presets)} found)"))
    unused = [f for f in top.features if f != CORE_FEATURE and not any(o.feature == f for o in opts)]
    for f in unused:
        problems.append((shown, f"features.{f}", "feature has no knobs"))
    if problems:
        raise ConfigError.many(problems)
    return Options(features=dict(top.features), options=opts, file=shown,
                   workloads=dict(top.workloads))


def _effect_problems(shown: str, opt: Option, workloads: dict[str, str]) -> list[tuple[str, str, str]]:
    """Checks of one knob's `effect:` that need more than the Effect model alone."""
    eff = opt.effect
    assert eff is not None
    out = []
    if opt.preset:
        return [(shown, f"{opt.key}.effect", "the preset knob's effect is the mode it names; "
                 "it has no `effect:`")]
    if eff.unobserved is not None:
        return out
    if eff.workload not in workloads:
        out.append((shown, f"{opt.key}.effect.workload",
                    _unknown_name("workload", eff.workload, list(workloads)) if workloads
                    else f"unknown workload '{eff.workload}' (no `workloads:` are declared)"))
    try:
        values.coerce_value(opt, eff.set)
    except ValueError as exc:
        out.append((shown, f"{opt.key}.effect.set", f"{eff.set!r}: {exc}"))
    return out


# --------------------------------------------------------------------------- modes

def mode_names(modes_dir: Path | str | None = None) -> list[str]:
    """Mode names in the order of the preset knob's choices; each must have a file and vice versa."""
    d = _dir(modes_dir)
    opts = load_options(d)
    preset = opts.preset
    files = sorted(p.stem for p in d.glob("*.yaml") if p.name not in NOT_MODES)
    choices = list(preset.choices or [])
    for stem in files:
        if stem not in choices:
            raise ConfigError(f"{d.name}/{stem}.yaml", preset.key,
                              f"mode '{stem}' is not among the choices of {preset.env} in {opts.file}")
    for c in choices:
        if c not in files:
            raise ConfigError(opts.file, preset.key, f"choice '{c}' has no mode file {d.name}/{c}.yaml")
    return choices


def default_mode(modes_dir: Path | str | None = None) -> str:
    """The mode built and installed when none is named: the preset knob's default."""
    return load_options(modes_dir).preset.default


def _unknown_name(kind: str, name: str, known: list[str]) -> str:
    import difflib
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {kind}{hint}; known: {', '.join(known)}"


def load_mode(name: str, modes_dir: Path | str | None = None) -> Mode:
    d = _dir(modes_dir)
    names = mode_names(d)
    if name not in names:
        raise ConfigError(f"{d.name}/", name, _unknown_name("mode", name, names))
    path = d / f"{name}.yaml"
    return _cached("mode", [path, d / OPTIONS_FILE], lambda: _load_mode(name, path, load_options(d)))


def _load_mode(name: str, path: Path, opts: Options) -> Mode:
    shown, mf = _read_model(path, ModeFile)

    problems: list[tuple[str, str, str]] = []
    known_features = list(opts.features)
    for f in mf.features:
        if f not in opts.features:
            problems.append((shown, f"features.{f}", _unknown_name("feature", f, known_features)))
    if len(set(mf.features)) != len(mf.features):
        problems.append((shown, "features", "a feature is listed twice"))
    enabled = {CORE_FEATURE, *mf.features}

    defaults: dict[str, Any] = {}
    keys = [o.key for o in opts.options]
    for key, raw in mf.defaults.items():
        try:
            opt = opts.option(key)
        except KeyError:
            by_env = opts.by_env(str(key))
            reason = (f"unknown knob (write the key '{by_env.key}', not the environment name)"
                      if by_env is not None else _unknown_name("knob", str(key), keys))
            problems.append((shown, f"defaults.{key}", reason))
            continue
        if opt.feature not in enabled:
            problems.append((shown, f"defaults.{key}",
                             f"knob of feature '{opt.feature}', which this mode does not compile in"))
            continue
        if opt.preset:
            problems.append((shown, f"defaults.{key}", "the preset knob is set to the mode's own name"))
            continue
        try:
            defaults[key] = values.coerce_value(opt, raw)
        except ValueError as exc:
            problems.append((shown, f"defaults.{key}", str(exc)))
    if problems:
        raise ConfigError.many(problems)
    return Mode(name=name, doc=mf.doc, features=list(mf.features), defaults=defaults, file=shown)


def resolve_mode(name: str, modes_dir: Path | str | None = None) -> Resolved:
    """Layer the mode over options.yaml: every feature on/off, every knob's effective default."""
    d = _dir(modes_dir)
    opts = load_options(d)
    mode = load_mode(name, d)
    enabled = {CORE_FEATURE, *mode.features}
    vals = {o.key: o.default for o in opts.options}
    vals[opts.preset.key] = name
    vals.update(mode.defaults)
    return Resolved(name=name, doc=mode.doc,
                    features={f: f in enabled for f in opts.features},
                    values=vals, options=opts, overridden=list(mode.defaults))


def resolve_all(modes_dir: Path | str | None = None) -> dict[str, Resolved]:
    """Every mode, resolved (validates the whole modes/ directory, knob effects included)."""
    out = {m: resolve_mode(m, modes_dir) for m in mode_names(modes_dir)}
    _effects(load_options(modes_dir), out)
    return out


# --------------------------------------------------------------------------- knob effects

@dataclass
class KnobEffect:
    """A knob's `effect:` with its mode resolved: what tests/knobs runs and checks."""

    option: Option
    mode: str | None
    workload: str | None
    set: str | None
    env: dict[str, str]
    observe: str | None
    kind: str          # path | stderr | file ('' when unobserved)
    target: str        # the dotted path or the regex
    expect: str | None
    default: Any       # the knob's effective default in `mode`
    unobserved: str | None = None   # why no workload shows the effect yet

    @property
    def key(self) -> str:
        return self.option.key


def _effects(opts: Options, resolved: dict[str, Resolved]) -> dict[str, KnobEffect]:
    problems: list[tuple[str, str, str]] = []
    out: dict[str, KnobEffect] = {}
    names = list(resolved)
    for o in opts.options:
        eff: Effect | None = o.effect
        if eff is None:
            continue
        if eff.unobserved is not None:
            out[o.key] = KnobEffect(option=o, mode=None, workload=None, set=None, env={}, observe=None,
                                    kind="", target="", expect=None, default=None,
                                    unobserved=eff.unobserved.strip())
            continue
        having = [m for m in names if resolved[m].features[o.feature]]
        if eff.mode is None:
            stats = [m for m in having if resolved[m].features.get(STATS_FEATURE)]
            if not having:
                problems.append((opts.file, f"{o.key}.effect.mode",
                                 f"no mode compiles feature '{o.feature}' in"))
                continue
            mode = (stats or having)[0]
        else:
            mode = eff.mode
            if mode not in resolved:
                problems.append((opts.file, f"{o.key}.effect.mode", _unknown_name("mode", mode, names)))
                continue
            if mode not in having:
                problems.append((opts.file, f"{o.key}.effect.mode",
                                 f"mode '{mode}' does not compile feature '{o.feature}' in "
                                 f"(modes that do: {', '.join(having) or 'none'})"))
                continue
        default = resolved[mode].values[o.key]
        if values.coerce_value(o, eff.set) == default:
            problems.append((opts.file, f"{o.key}.effect.set",
                             f"{eff.set!r} is the knob's default in mode '{mode}': nothing to compare"))
            continue
        out[o.key] = KnobEffect(option=o, mode=mode, workload=eff.workload, set=eff.set,
                                env=dict(eff.env), observe=eff.observe, kind=eff.kind,
                                target=eff.target, expect=eff.expect, default=default)
    if problems:
        raise ConfigError.many(problems)
    return out


def load_effects(modes_dir: Path | str | None = None) -> dict[str, KnobEffect]:
    """Every knob's `effect:` (key -> KnobEffect), its mode defaulted and validated."""
    d = _dir(modes_dir)
    return _effects(load_options(d), {m: resolve_mode(m, d) for m in mode_names(d)})


# --------------------------------------------------------------------------- variants

def load_variants(modes_dir: Path | str | None = None) -> dict[str, Variant]:
    path = _dir(modes_dir) / VARIANTS_FILE
    return _cached("variants", [path], lambda: _load_variants(path))


def _load_variants(path: Path) -> dict[str, Variant]:
    shown, vf = _read_model(path, VariantsFile)
    out: dict[str, Variant] = {}
    for name, spec in vf.variants.items():
        defines: dict[str, Any] = {"HAK_VARIANT_NAME": f'"{name}"',
                                   "HAK_INTERPOSE": 1 if spec.interpose else 0}
        for k in spec.defines:
            if k in defines:
                raise ConfigError(shown, f"variants.{name}.defines.{k}", "set by the build; do not define it")
        defines.update(spec.defines)
        out[name] = Variant(name=name, doc=spec.doc,
                            cflags=vf.common.cflags + spec.cflags,
                            linkflags=vf.common.linkflags + spec.linkflags,
                            defines=defines, interpose=spec.interpose)
    return out


def load_variant(name: str, modes_dir: Path | str | None = None) -> Variant:
    vs = load_variants(modes_dir)
    if name not in vs:
        raise ConfigError(_shown(_dir(modes_dir) / VARIANTS_FILE), name, _unknown_name("variant", name, list(vs)))
    return vs[name]


def source_files(modes_dir: Path | str | None = None) -> list[Path]:
    """The YAML files the generated output of any mode is derived from."""
    d = _dir(modes_dir)
    return [d / OPTIONS_FILE] + [d / f"{m}.yaml" for m in mode_names(d)]
