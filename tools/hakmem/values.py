"""Parse and format knob values exactly as the C runtime does.

One parser for every place a value is read as text: defaults in the YAML, mode
overrides, `hakmem validate` on an environment. The C parser in src/config
implements the same rules; docs/CONFIGURATION.md describes them.

`parse_value(option, text)` returns the typed value or raises ValueError whose
message is the reason (no key, no file: callers add those).
"""
from __future__ import annotations

import math
import re
from typing import Any, Protocol

# Text values (list, string) fit in a char[256] of hak_config_t, NUL included.
TEXT_MAX = 255

BOOL_TRUE = ("1", "true", "on", "yes")
BOOL_FALSE = ("0", "false", "off", "no")

SIZE_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}

# class_override: "C<class>:<cap>:<refill>" entries, comma-separated.
CLASS_OVERRIDE_CLASSES = (0, 7)     # TINY size classes C0..C7
CLASS_OVERRIDE_CAP = (16, 2048)     # blocks per class cache
CLASS_OVERRIDE_REFILL = (1, 256)    # blocks per refill, at most cap
FLOAT_LIST_MAX_ITEMS = 16

_INT_RE = re.compile(r"[+-]?\d+")
_SIZE_RE = re.compile(r"(\d+)([KMG]?)", re.IGNORECASE)
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CLASS_RE = re.compile(r"C(\d+):(\d+):(\d+)", re.IGNORECASE)


class OptionLike(Protocol):
    """What the parser needs to know about a knob (hakmem.schema.Option)."""

    type: str
    min: Any
    max: Any
    choices: list[str] | None
    format: str | None


def _check_range(option: OptionLike, value: float, shown: str) -> None:
    lo, hi = option.min, option.max
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ValueError(f"{shown} is out of range [{_num(option, lo)}, {_num(option, hi)}]")


def _num(option: OptionLike, n: Any) -> str:
    if n is None:
        return "-inf"
    if option.type == "size":
        return format_size(int(n))
    return repr(n) if isinstance(n, float) else str(n)


def format_size(n: int) -> str:
    """Bytes as the shortest exact K/M/G text: 33554432 -> '32M'."""
    for suffix in ("G", "M", "K"):
        unit = SIZE_SUFFIX[suffix]
        if n and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in BOOL_TRUE:
        return True
    if t in BOOL_FALSE:
        return False
    raise ValueError(f"'{text}' is not a boolean (use 0/1, true/false, on/off or yes/no)")


def parse_int(text: str) -> int:
    t = text.strip()
    if not _INT_RE.fullmatch(t):
        raise ValueError(f"'{text}' is not an integer")
    return int(t)


def parse_size(text: str) -> int:
    m = _SIZE_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a size (digits with an optional K, M or G suffix)")
    return int(m.group(1)) * SIZE_SUFFIX[m.group(2).upper()]


def parse_float(text: str) -> float:
    t = text.strip()
    if not _FLOAT_RE.fullmatch(t):
        raise ValueError(f"'{text}' is not a number")
    v = float(t)
    if not math.isfinite(v):
        raise ValueError(f"'{text}' is not a finite number")
    return v


def _parse_class_override(text: str) -> str:
    t = text.strip()
    if not t:
        return ""
    seen: set[int] = set()
    out = []
    for raw in t.split(","):
        item = raw.strip()
        m = _CLASS_RE.fullmatch(item)
        if not m:
            raise ValueError(f"'{item}' is not class:cap:refill (e.g. C0:256:16)")
        cls, cap, refill = (int(g) for g in m.groups())
        for what, v, (lo, hi) in (("class", cls, CLASS_OVERRIDE_CLASSES),
                                  ("cap", cap, CLASS_OVERRIDE_CAP),
                                  ("refill", refill, CLASS_OVERRIDE_REFILL)):
            if not lo <= v <= hi:
                raise ValueError(f"'{item}': {what} {v} is out of range [{lo}, {hi}]")
        if refill > cap:
            raise ValueError(f"'{item}': refill {refill} exceeds cap {cap}")
        if cls in seen:
            raise ValueError(f"'{item}': class C{cls} given twice")
        seen.add(cls)
        out.append(f"C{cls}:{cap}:{refill}")
    return ",".join(out)


def _parse_float_list(option: OptionLike, text: str) -> str:
    items = [s.strip() for s in text.split(",")]
    if not text.strip() or any(not s for s in items):
        raise ValueError(f"'{text}' is not a comma-separated list of numbers")
    if len(items) > FLOAT_LIST_MAX_ITEMS:
        raise ValueError(f"{len(items)} values given, at most {FLOAT_LIST_MAX_ITEMS} allowed")
    out = []
    for item in items:
        v = parse_float(item)
        _check_range(option, v, item)
        out.append(repr(v))
    return ",".join(out)


def parse_value(option: OptionLike, text: str) -> Any:
    """Parse `text` as a value of `option`; raise ValueError(reason) when it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not text")
    kind = option.type
    if kind == "bool":
        return parse_bool(text)
    if kind == "int":
        v = parse_int(text)
        _check_range(option, v, str(v))
        return v
    if kind == "size":
        v = parse_size(text)
        _check_range(option, v, text.strip())
        return v
    if kind == "float":
        v = parse_float(text)
        _check_range(option, v, text.strip())
        return v
    if kind == "choice":
        t = text.strip().lower()
        for c in option.choices or []:
            if c.lower() == t:
                return c
        raise ValueError(f"'{text}' is not one of {', '.join(option.choices or [])}")
    if kind in ("list", "string"):
        if len(text.encode()) > TEXT_MAX:
            raise ValueError(f"text is longer than {TEXT_MAX} bytes")
        if any(ord(ch) < 0x20 for ch in text):
            raise ValueError("text contains control characters")
        if kind == "string":
            return text
        if option.format == "class_override":
            return _parse_class_override(text)
        if option.format == "float_list":
            return _parse_float_list(option, text)
        raise ValueError(f"unknown list format {option.format!r}")
    raise ValueError(f"unknown type {kind!r}")


def coerce_value(option: OptionLike, raw: Any) -> Any:
    """Accept a value as YAML delivers it (int, float, bool or text) and parse it."""
    if isinstance(raw, bool):
        if option.type == "bool":
            return raw
        if option.type == "choice":
            raise ValueError(f"{raw!r} is a YAML boolean; quote the choice (e.g. \"off\")")
        raise ValueError(f"{raw!r} is a boolean, not a {option.type}")
    if raw is None:
        raise ValueError("no value given")
    if isinstance(raw, (int, float)) and option.type in ("list", "string"):
        return parse_value(option, str(raw))
    if isinstance(raw, float):
        if option.type != "float":
            raise ValueError(f"{raw!r} is a fraction, not a {option.type}")
        return parse_value(option, repr(raw))
    if isinstance(raw, (int, str)):
        return parse_value(option, str(raw))
    raise ValueError(f"{raw!r} is not a scalar value")


def format_value(option: OptionLike, value: Any) -> str:
    """The value as text that parse_value (and the C parser) reads back unchanged."""
    kind = option.type
    if kind == "bool":
        return "1" if value else "0"
    if kind in ("int", "size"):
        return str(int(value))
    if kind == "float":
        return repr(float(value))
    return str(value)
