"""Values for the generated per-knob tests: a valid setting different from a mode's default,
and what the library's JSON dump should then report. Everything comes from options.yaml."""
from __future__ import annotations

from typing import Any

from hakmem import values
from hakmem.loader import Resolved
from hakmem.schema import Option


def other_value(opt: Option, mode: Resolved, modes: dict[str, Resolved]) -> str:
    """Text of a valid value for `opt` that differs from `mode`'s default where possible."""
    default = mode.values[opt.key]
    t = opt.type
    if opt.preset:
        mine = {f for f, on in mode.features.items() if on}
        for name, r in modes.items():
            if name != mode.name and {f for f, on in r.features.items() if on} <= mine:
                return name.upper()          # choices are case-insensitive
        return mode.name
    if t == "bool":
        return "off" if default else "on"
    if t in ("int", "size", "float"):
        v = opt.max if default != opt.max else opt.min
        if t == "size":
            return values.format_size(int(v))
        return repr(float(v)) if t == "float" else str(int(v))
    if t == "choice":
        return next(c for c in opt.choices if c != default).upper()
    if t == "list" and opt.format == "class_override":
        return "C0:32:8,C7:64:16"
    if t == "list":
        return f"{opt.min!r},{opt.max!r}"
    return "/tmp/hakmem-test-value"


def expected_json(opt: Option, text: str) -> Any:
    """The value hak_config_dump(json) reports after `text` was accepted."""
    v = values.parse_value(opt, text)
    if opt.type == "list":
        return text                           # stored as given
    return v
