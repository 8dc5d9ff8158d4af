"""Schema of the files under modes/: pydantic models, structural checks only.

Cross-file rules (a mode naming an unknown feature, a knob of a compiled-out
feature…) live in hakmem.loader, which turns every failure into ConfigError.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import values

CORE_FEATURE = "core"          # always compiled in; a mode needs not list it
ENV_PREFIX = "HAKMEM_"

OptionType = Literal["bool", "int", "size", "float", "choice", "list", "string"]
ListFormat = Literal["class_override", "float_list"]

_ENV_RE = re.compile(r"HAKMEM_[A-Z][A-Z0-9_]*")
_IDENT_RE = re.compile(r"[a-z][a-z0-9_]*")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _check_env(v: str) -> str:
    """A knob's or an alias's environment name: HAKMEM_ and upper case."""
    if not _ENV_RE.fullmatch(v):
        raise ValueError(f"'{v}' is not an upper-case HAKMEM_* name")
    return v


class ConfigError(Exception):
    """A configuration problem: str() is `FILE: KEY: REASON`, one line per problem."""

    def __init__(self, file: str, key: str, reason: str):
        self.problems: list[tuple[str, str, str]] = [(str(file), str(key), str(reason))]
        super().__init__(str(self))

    @classmethod
    def many(cls, problems: list[tuple[str, str, str]]) -> "ConfigError":
        err = cls(*problems[0])
        err.problems = list(problems)
        err.args = (str(err),)
        return err

    @property
    def file(self) -> str:
        return self.problems[0][0]

    @property
    def key(self) -> str:
        return self.problems[0][1]

    @property
    def reason(self) -> str:
        return self.problems[0][2]

    def __str__(self) -> str:
        return "\n".join(f"{f}: {k}: {r}" for f, k, r in self.problems)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Alias(Strict):
    """A deprecated environment name that still works (with a warning) until `sunset`."""

    env: str
    sunset: str

    @field_validator("env")
    @classmethod
    def _env(cls, v: str) -> str:
        return _check_env(v)

    @field_validator("sunset", mode="before")
    @classmethod
    def _sunset(cls, v: Any) -> str:
        if isinstance(v, _dt.date):
            return v.isoformat()
        if not isinstance(v, str) or not _DATE_RE.fullmatch(v):
            raise ValueError(f"sunset {v!r} is not a YYYY-MM-DD date")
        try:
            _dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"sunset {v!r} is not a valid date") from None
        return v


EffectExpect = Literal["increases", "decreases", "differs", "matches"]
_OBSERVE_PATH_RE = re.compile(r"[a-z_][a-z0-9_]*(\.([A-Za-z0-9_]+|\*))*")
_WORKLOAD_RE = _IDENT_RE


class Effect(Strict):
    """How a knob's effect is observed (tests/knobs): run `workload` under `mode`'s release .so
    with the knob at its default and at `set`, and compare what `observe` names.

    observe: a dotted path into the stats JSON (`tiers.tiny.cache_misses`; a list element is
    named by its `name`, `class` or `tier` field or by its index, `*` sums over a list),
    `stderr:<regex>` (a message) or `file:<regex>` (a file name the run creates in its
    working directory). expect: increases / decreases (a path's value), differs (either),
    matches (a regex: found with `set`, absent with the default).

    `unobserved: <reason>` instead of the rest records a knob whose effect no workload shows yet
    (the test reports it as skipped with the reason).
    """

    mode: Optional[str] = None
    workload: Optional[str] = None
    set: Optional[str] = None
    env: dict[str, str] = {}
    observe: Optional[str] = None
    expect: Optional[EffectExpect] = None
    unobserved: Optional[str] = None

    @field_validator("set", mode="before")
    @classmethod
    def _set(cls, v: Any) -> str:
        if isinstance(v, bool):
            raise ValueError(f"set {v!r} is a YAML boolean; quote it (e.g. \"1\")")
        if isinstance(v, (int, float)):
            return str(v)
        return v

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, v: Any) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if not isinstance(k, str) or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", k):
                    raise ValueError(f"env name {k!r} is not an upper-case variable name")
                if isinstance(x, bool):
                    raise ValueError(f"env {k}: {x!r} is a YAML boolean; quote it")
                out[k] = str(x) if isinstance(x, (int, float)) else x
            return out
        return v

    @field_validator("workload")
    @classmethod
    def _workload(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _WORKLOAD_RE.fullmatch(v):
            raise ValueError(f"workload '{v}' must be a lower-case identifier")
        return v

    @property
    def kind(self) -> str:
        """'stderr', 'file' or 'path' ('' when unobserved)."""
        if self.observe is None:
            return ""
        head = self.observe.split(":", 1)[0]
        return head if head in ("stderr", "file") and ":" in self.observe else "path"

    @property
    def target(self) -> str:
        """The regex (stderr, file) or the dotted path."""
        if self.observe is None:
            return ""
        return self.observe.split(":", 1)[1] if self.kind != "path" else self.observe

    @model_validator(mode="after")
    def _check(self) -> "Effect":
        given = [f for f in ("mode", "workload", "set", "observe", "expect") if getattr(self, f) is not None]
        if self.unobserved is not None:
            if not self.unobserved.strip():
                raise ValueError("unobserved needs a reason")
            if given or self.env:
                raise ValueError(f"unobserved excludes {', '.join(given + (['env'] if self.env else []))}")
            return self
        missing = [f for f in ("workload", "set", "observe", "expect") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"effect needs {', '.join(missing)} (or `unobserved: <reason>`)")
        if self.kind == "path":
            if not _OBSERVE_PATH_RE.fullmatch(self.observe):
                raise ValueError(f"observe '{self.observe}' is neither a dotted stats path "
                                 "(a.b.c) nor stderr:<regex> / file:<regex>")
            if self.expect == "matches":
                raise ValueError("expect `matches` needs observe stderr:<regex> or file:<regex>")
        else:
            try:
                re.compile(self.target)
            except re.error as exc:
                raise ValueError(f"observe {self.kind}: bad regex {self.target!r}: {exc}") from None
            if not self.target:
                raise ValueError(f"observe {self.kind}: needs a regex")
            if self.expect in ("increases", "decreases"):
                raise ValueError(f"expect `{self.expect}` needs a stats path, not {self.kind}:")
        return self


class Option(Strict):
    """One knob of options.yaml. `key` is derived from `env`; `default` is typed."""

    env: str
    type: OptionType
    default: Any
    min: Optional[float | int | str] = None
    max: Optional[float | int | str] = None
    choices: Optional[list[str]] = None
    format: Optional[ListFormat] = None
    feature: str
    doc: str = Field(min_length=1)
    aliases: list[Alias] = []
    preset: bool = False
    effect: Optional[Effect] = None

    @property
    def key(self) -> str:
        return self.env[len(ENV_PREFIX):].lower()

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "size", "float") or self.format == "float_list"

    @field_validator("env")
    @classmethod
    def _env(cls, v: str) -> str:
        return _check_env(v)

    @field_validator("doc")
    @classmethod
    def _doc(cls, v: str) -> str:
        if "\n" in v.strip():
            raise ValueError("doc must be one line")
        return v.strip()

    @field_validator("choices", mode="before")
    @classmethod
    def _choices(cls, v: Any) -> Any:
        if isinstance(v, list):
            for c in v:
                if isinstance(c, bool):
                    raise ValueError(f"choice {c!r} is a YAML boolean; quote it (e.g. \"off\")")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Option":
        t = self.type
        if self.numeric:
            if self.min is None or self.max is None:
                raise ValueError(f"a {t} knob needs min and max")
            self.min, self.max = self._bound(self.min), self._bound(self.max)
            if self.min > self.max:
                raise ValueError(f"min {self.min} is greater than max {self.max}")
        elif self.min is not None or self.max is not None:
            raise ValueError(f"min/max do not apply to a {t} knob")
        if t == "choice":
            if not self.choices:
                raise ValueError("a choice knob needs `choices`")
            for c in self.choices:
                if not _IDENT_RE.fullmatch(c):
                    raise ValueError(f"choice '{c}' must be a lower-case identifier")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError("choices repeat a value")
        elif self.choices is not None:
            raise ValueError(f"choices do not apply to a {t} knob")
        if t == "list":
            if self.format is None:
                raise ValueError("a list knob needs `format` (class_override or float_list)")
            if self.format == "class_override" and (self.min is not None):
                raise ValueError("min/max do not apply to a class_override list")
        elif self.format is not None:
            raise ValueError(f"format does not apply to a {t} knob")
        if self.preset and t != "choice":
            raise ValueError("the preset knob must be a choice")
        try:
            self.default = values.coerce_value(self, self.default)
        except ValueError as exc:
            raise ValueError(f"default: {exc}") from None
        return self

    def _bound(self, v: Any) -> float | int:
        if isinstance(v, bool):
            raise ValueError(f"bound {v!r} is not a number")
        if self.type == "size":
            return values.parse_size(str(v))
        if self.type == "int":
            if isinstance(v, float) or not values._INT_RE.fullmatch(str(v).strip()):
                raise ValueError(f"bound {v!r} is not an integer")
            return int(v)
        return values.parse_float(str(v)) if isinstance(v, str) else float(v)


class OptionsFile(Strict):
    features: dict[str, str]
    workloads: dict[str, str] = {}  # knob-effect workloads (tests/knobs/c/<name>.c) -> one-line doc
    options: list[dict[str, Any]]   # validated one by one so errors name the knob

    @field_validator("features")
    @classmethod
    def _features(cls, v: dict[str, str]) -> dict[str, str]:
        if CORE_FEATURE not in v:
            raise ValueError(f"the `{CORE_FEATURE}` feature must be declared")
        for name in v:
            if not _IDENT_RE.fullmatch(name):
                raise ValueError(f"feature '{name}' must be a lower-case identifier")
        return v

    @field_validator("workloads")
    @classmethod
    def _workloads(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _WORKLOAD_RE.fullmatch(name):
                raise ValueError(f"workload '{name}' must be a lower-case identifier")
        return v


class ModeFile(Strict):
    doc: str = Field(min_length=1)
    features: list[str] = []
    defaults: dict[str, Any] = {}


class VariantSpec(Strict):
    doc: str = Field(min_length=1)
    cflags: list[str] = []
    linkflags: list[str] = []
    defines: dict[str, int | str] = {}
    interpose: bool


class CommonFlags(Strict):
    cflags: list[str] = []
    linkflags: list[str] = []


class VariantsFile(Strict):
    common: CommonFlags = CommonFlags()
    variants: dict[str, VariantSpec]

    @field_validator("variants")
    @classmethod
    def _names(cls, v: dict[str, VariantSpec]) -> dict[str, VariantSpec]:
        for name in v:
            if not _IDENT_RE.fullmatch(name) or name == "all":
                raise ValueError(f"variant name '{name}' must be a lower-case identifier other than 'all'")
        return v
