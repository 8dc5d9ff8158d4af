"""Check HAKMEM_* settings against modes/options.yaml the way the C runtime reads them.

Used by `hakmem validate` (and its tests). Every knob, range, choice and alias comes
from the loader; the reasons for rejecting a value are worded exactly as the C runtime
(src/config/config.c) prints them, so the validator and the library agree line for line.

    read_env_file(path)          -> EnvFile (entries in order, problems found while reading)
    check(entries, mode=None)    -> [Finding]   one or more per HAKMEM_* entry
    reject_reason(option, text)  -> None when the runtime accepts text, else the reason
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from . import loader, values
from .loader import Options, Resolved
from .schema import ENV_PREFIX, Option

OK, WARN, DEPRECATED, ERROR = "OK", "WARN", "DEPRECATED", "ERROR"
LEVELS = (OK, WARN, DEPRECATED, ERROR)

# Whitespace the C parser trims around a value.
_BLANKS = " \t\n\r"
_INT_RE = re.compile(r"[+-]?[0-9]+")
_SIZE_RE = re.compile(r"([0-9]+)([KMGkmg]?)")
_FLOAT_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EN_DASH = "\u2013"


@dataclass
class Finding:
    level: str                  # OK | WARN | DEPRECATED | ERROR
    var: str                    # the variable the line is about ("" for file problems)
    text: str                   # the line without its [LEVEL] tag

    def line(self) -> str:
        return f"[{self.level}] {self.text}"


@dataclass
class Entry:
    name: str
    value: str
    where: str = ""             # "file:line" for env files


@dataclass
class EnvFile:
    entries: list[Entry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    mode: Optional[str] = None   # from a "# hakmem-mode: NAME" comment: the build it is for


_MODE_DIRECTIVE = re.compile(r"#\s*hakmem-mode:\s*([A-Za-z0-9_-]+)\s*")


# --------------------------------------------------------------------------- values

def _repr_float(v: float) -> str:
    return repr(float(v))


def _bound(option: Option, v) -> str:
    if option.type in ("float", "list"):
        return _repr_float(v)
    if option.type == "size":
        return values.format_size(int(v))
    return str(int(v))


def allowed(option: Option) -> str:
    """' (allowed 16–1024)' for a knob with a range, '' otherwise (as the C runtime says)."""
    if option.min is None or option.max is None or not option.min < option.max:
        return ""
    return f" (allowed {_bound(option, option.min)}{EN_DASH}{_bound(option, option.max)})"


def _in_range(option: Option, v: float) -> bool:
    if option.min is None or option.max is None or not option.min < option.max:
        return True
    return option.min <= v <= option.max


def reject_reason(option: Option, text: str) -> Optional[str]:
    """Why the runtime would reject `text` for this knob, or None when it takes it."""
    t = text.strip(_BLANKS)
    kind = option.type
    if kind == "bool":
        if t.lower() in values.BOOL_TRUE + values.BOOL_FALSE:
            return None
        return "not a boolean (allowed 0/1, true/false, on/off, yes/no)"
    if kind == "int":
        if not _INT_RE.fullmatch(t):
            return f"not an integer{allowed(option)}"
        return None if _in_range(option, int(t)) else f"out of range{allowed(option)}"
    if kind == "size":
        m = _SIZE_RE.fullmatch(t)
        if not m:
            return f"not a size: digits with an optional K, M or G suffix{allowed(option)}"
        v = int(m.group(1)) * values.SIZE_SUFFIX[m.group(2).upper()]
        if v > (1 << 63) - 1:
            return f"out of range{allowed(option)}"
        return None if _in_range(option, v) else f"out of range{allowed(option)}"
    if kind == "float":
        if not _FLOAT_RE.fullmatch(t):
            return f"not a number{allowed(option)}"
        v = float(t)
        if v != v or v in (float("inf"), float("-inf")):
            return f"not a number{allowed(option)}"
        return None if _in_range(option, v) else f"out of range{allowed(option)}"
    if kind == "choice":
        if any(c.lower() == t.lower() for c in option.choices or []):
            return None
        return f"not one of {', '.join(option.choices or [])}"
    # list, string: the rules (and words) of hakmem.values, which the C parser shares
    if len(text.encode()) > values.TEXT_MAX:
        return f"text is longer than {values.TEXT_MAX} bytes"
    if any(ord(ch) < 0x20 for ch in text):
        return "text contains control characters"
    try:
        values.parse_value(option, text)
    except ValueError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- names

def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, case-insensitive, each side clipped to 63 characters (as in C)."""
    a, b = a[:63].lower(), b[:63].lower()
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j - 1] + (ca != cb), prev[j] + 1, cur[j - 1] + 1))
        prev = cur
    return prev[-1]


def closest(name: str, candidates: Iterable[str]) -> Optional[str]:
    """The first candidate at the smallest edit distance (table order, as the C runtime picks)."""
    best, bestd = None, 1 << 30
    for c in candidates:
        d = edit_distance(name, c)
        if d < bestd:
            best, bestd = c, d
    return best


# --------------------------------------------------------------------------- env files

def _unquote(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1], True
    return value, False


def read_env_file(path: Path | str) -> EnvFile:
    """KEY=VALUE lines as systemd EnvironmentFile, `set -a; source` and `docker --env-file`
    read them: blank lines and `#` comments skipped, an optional leading `export `, and
    surrounding quotes removed (with a warning: docker keeps them). A comment
    `# hakmem-mode: NAME` records the mode whose library the file is meant for. Raises
    OSError when the file cannot be read."""
    p = Path(path)
    text = p.read_text(encoding="utf-8", errors="replace")
    out = EnvFile()
    for n, raw in enumerate(text.splitlines(), 1):
        where = f"{p.name}:{n}"
        line = raw.strip()
        if not line or line.startswith("#"):
            m = _MODE_DIRECTIVE.fullmatch(line)
            if m and out.mode is None:
                out.mode = m.group(1)
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export"):].strip()
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not _NAME_RE.fullmatch(name):
            out.findings.append(Finding(ERROR, "", f"{where}: not a KEY=VALUE line: {raw.strip()}"))
            continue
        value = value.strip()
        value, quoted = _unquote(value)
        if quoted and name.startswith(ENV_PREFIX):
            out.findings.append(Finding(
                WARN, name, f"{where}: {name}: quotes around the value are removed by systemd "
                "and the shell but kept by docker --env-file; write it unquoted"))
        out.entries.append(Entry(name, value, where))
    return out


def entries_from_environ(environ: dict[str, str]) -> list[Entry]:
    return [Entry(k, v) for k, v in environ.items()]


# --------------------------------------------------------------------------- checking

def _so_hint(mode: str) -> str:
    return f"out/{mode}/<variant>/libhakmem.so"


def _first_mode_with(feature: str, modes: dict[str, Resolved]) -> Optional[str]:
    for name, r in modes.items():
        if r.features.get(feature):
            return name
    return None


def check(entries: list[Entry], mode: Optional[str] = None,
          modes_dir: Path | str | None = None) -> list[Finding]:
    """Findings for every HAKMEM_* entry (other names are not ours and are skipped).
    With `mode`, a knob whose feature that mode compiles out is a warning, as is a
    HAKMEM_MODE preset needing features the mode lacks."""
    opts: Options = loader.load_options(modes_dir)
    modes = loader.resolve_all(modes_dir)
    target = modes[mode] if mode else None
    ours = [e for e in entries if e.name.startswith(ENV_PREFIX)]
    names = {e.name for e in ours}
    findings: list[Finding] = []

    seen: dict[str, Entry] = {}
    for e in ours:
        if e.name in seen:
            first = seen[e.name]
            findings.append(Finding(WARN, e.name,
                                    f"{e.name} is set twice ({first.where} and {e.where}); "
                                    "the last one counts"))
        seen[e.name] = e
    last = list(seen.values())

    for e in last:
        shown = f"{e.name}={e.value}"
        opt = opts.by_env(e.name)
        if opt is None:
            hint = closest(e.name, [o.env for o in opts.options])
            findings.append(Finding(WARN, e.name, f"{e.name} is not a hakmem variable"
                                    + (f" (did you mean {hint}?)" if hint else "")))
            continue
        alias = next((a for a in opt.aliases if a.env == e.name), None)
        if alias is not None:
            if opt.env in names:
                findings.append(Finding(DEPRECATED, e.name,
                                        f"{e.name} is deprecated, use {opt.env} instead (sunset "
                                        f"{alias.sunset}); ignored because {opt.env} is set"))
                continue
            findings.append(Finding(DEPRECATED, e.name,
                                    f"{e.name} is deprecated, use {opt.env} instead (sunset "
                                    f"{alias.sunset})"))
        why = reject_reason(opt, e.value)
        if why is not None:
            if opt.preset:
                hint = closest(e.value.strip(), opt.choices or [])
                why += f" (did you mean {hint}?)" if hint else ""
            findings.append(Finding(ERROR, e.name, f"{shown}: {why}"))
            continue
        if target is not None and not target.features.get(opt.feature, True):
            has = _first_mode_with(opt.feature, modes)
            findings.append(Finding(
                WARN, e.name,
                f"{shown}: feature {opt.feature} is not compiled into mode {target.name}; the "
                f"value is ignored there" + (f"; use {_so_hint(has)}" if has else "")))
            continue
        if opt.preset and target is not None:
            preset = modes[values.parse_value(opt, e.value)]
            missing = [f for f, on in preset.features.items() if on and not target.features.get(f)]
            if missing:
                findings.append(Finding(
                    WARN, e.name,
                    f"{shown} needs feature{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                    f"which mode {target.name} does not compile in; use {_so_hint(preset.name)}"))
                continue
        if alias is None:
            findings.append(Finding(OK, e.name, shown))
    return findings


def exit_code(findings: list[Finding], strict: bool) -> int:
    """0 clean; 1 warnings or deprecations with --strict; 3 errors (see hakmem validate -h)."""
    levels = {f.level for f in findings}
    if ERROR in levels:
        return EXIT_ERRORS
    if strict and levels & {WARN, DEPRECATED}:
        return EXIT_STRICT
    return EXIT_OK


EXIT_OK = 0
EXIT_STRICT = 1
EXIT_USAGE = 2
EXIT_ERRORS = 3
