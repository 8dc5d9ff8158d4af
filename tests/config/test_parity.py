"""The C runtime and `hakmem validate` agree: for many generated values of every knob, the
library accepts exactly what the validator accepts, and rejects the rest with the same
reason, word for word. Deterministic (seeded), ASCII values."""
from __future__ import annotations

import random

import pytest

from cfgutil import expected_json
from hakmem import envcheck, loader, values

GENERIC = ["", " ", "0", "1", "-1", "+1", "00012", "1.", ".5", "1e3", "1E-2", "-0", "0x10",
           "abc", "on", "OFF", "Yes", "no ", " true", "maybe", "5K", "5k", "5M", "2G", "7T",
           "64KB", "1 2", "1,2", "nan", "inf", "-inf", "1e400", "99999999999999999999",
           "9223372036854775807", "9223372036854775808", "C0:32:8", "c1:64:16,C2:64:8",
           "C0:32:8,", ",C0:32:8", "C0:32", "C0:32:8:1", "C9:32:8", "C0:16:1", "C0:2048:256",
           "C0:15:1", "C0:32:33", "C0:32:8,C0:32:8", "1.4,1.5", "1.4, 1.5 ", "1,2,3,4",
           "0.5,4.5", "1.4,,1.5", "4", "0.005", "0.05", "0.051", "learn", "FROZEN", "auto",
           "dontneed", "x" * 255, "y" * 256, "/var/log/hakmem.json"]


def _type_values(opt) -> list[str]:
    out: list[str] = []
    if opt.min is not None and opt.max is not None:
        lo, hi = opt.min, opt.max
        if opt.type in ("int", "size"):
            out += [str(int(lo)), str(int(hi)), str(int(lo) - 1), str(int(hi) + 1),
                    str((int(lo) + int(hi)) // 2)]
            if opt.type == "size":
                out += [values.format_size(int(lo)), values.format_size(int(hi)),
                        values.format_size(int(hi)) .lower(), values.format_size(int(hi) * 2)]
        else:
            out += [repr(float(lo)), repr(float(hi)), repr(float(hi) + 0.5), repr((lo + hi) / 2),
                    f"{repr(float(lo))},{repr(float(hi))}"]
    for c in opt.choices or []:
        out += [c, c.upper(), c + "x"]
    if opt.type == "bool":
        out += ["1", "0", "on", "off", "TRUE", "No", " yes"]
    if opt.format == "class_override":
        out += ["C0:32:8,C7:32:8", "c3:256:16", " C1:64:4 , C2:64:64", ""]
    if opt.type == "string":
        out += ["/tmp/x.json", "a b", ""]
    return out


def _cases(runs: int = 16):
    """Random environments for research (every feature but the hardened mode's) and for hardened
    (the rest), each of the knobs its library compiles in."""
    opts = loader.load_options()
    rng = random.Random(20261122)
    cases = []
    for mode, count in (("research", runs), ("hardened", runs // 4)):
        compiled = loader.resolve_mode(mode).features
        knobs = [o for o in opts.options if not o.preset and compiled[o.feature]]
        for n in range(count):
            env = {}
            for o in knobs:
                typed = _type_values(o)
                env[o.env] = rng.choice(typed if typed and rng.random() < 0.6 else GENERIC)
            cases.append(pytest.param(mode, env, id=f"{mode}-run{n}"))
    return cases


@pytest.mark.parametrize("mode,env", _cases())
def test_library_and_validator_agree(driver, options, modes, mode, env):
    r = driver(mode).run(env)
    cfg = r.config
    by_var: dict[str, list[str]] = {}
    for ln in r.lines:
        if ln.startswith(("configuration of", "features:", "  ")):
            continue                             # the debug-level table, when one is drawn
        by_var.setdefault(ln.split("=", 1)[0], []).append(ln)
    for name, text in env.items():
        opt = options.by_env(name)
        reason = envcheck.reject_reason(opt, text)
        entry = cfg["options"][opt.key]
        got = by_var.get(name, [])
        if reason is None:
            assert got == [], (name, text)
            assert entry["source"] == "env", (name, text)
            want = expected_json(opt, text)
            if opt.type == "choice":
                want = want.lower()
            assert entry["value"] == want, (name, text)
        else:
            shown = text[:64]
            kept = values.format_value(opt, modes[mode].values[opt.key]) or '""'
            assert got == [f"{name}={shown}: {reason}; keeping {kept[:64]}"], (name, text)
            assert entry["source"] == "default", (name, text)
    assert set(by_var) <= set(env), set(by_var) - set(env)
