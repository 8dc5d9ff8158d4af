"""Helpers of the configuration tests: paths, the C test driver (src/config + a rendered
option table, no allocator), running the `hakmem` command, and per-knob test values.
Everything about knobs comes from options.yaml through the loader."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT / "tools"),):
    if p not in sys.path:
        sys.path.insert(0, p)

from hakmem import values  # noqa: E402
from hakmem.loader import Resolved  # noqa: E402
from hakmem.schema import Option  # noqa: E402

DRIVER_SOURCES = sorted((ROOT / "src" / "config").glob("*.c")) + [ROOT / "src" / "log.c",
                                                                  HERE / "c" / "driver.c"]
VARIANT = "release"
FAKE = "fake"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any HAKMEM_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_")}
    env.update(extra)
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    lines: list[str]          # stderr lines ("hakmem: " prefix removed)

    @property
    def config(self) -> dict:
        return json.loads(self.stdout)


@dataclass
class Driver:
    mode: str
    exe: Path

    def run(self, env: dict[str, str] | None = None, *args: str, fmt: str = "json") -> Result:
        cmd = [str(self.exe), *args, fmt]
        proc = subprocess.run(cmd, env=clean_env(**(env or {})), capture_output=True, text=True,
                              timeout=30)
        lines = [ln[len("hakmem: "):] if ln.startswith("hakmem: ") else ln
                 for ln in proc.stderr.splitlines()]
        return Result(proc.returncode, proc.stdout, lines)

    def tool(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.exe), *args], capture_output=True, text=True, timeout=30)


def _sanitizer_flags(cc: str, tmp: Path) -> list[str]:
    """ASan+UBSan on the driver when the toolchain has them: the parser gets checked too."""
    probe = tmp / "probe.c"
    probe.write_text("int main(void){return 0;}\n")
    flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    ok = subprocess.run([cc, *flags, str(probe), "-o", str(tmp / "probe")],
                        capture_output=True).returncode == 0
    return flags if ok else []


def hakmem_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m hakmem.cli ARGS` in a child process."""
    e = clean_env(**(env or {}))
    e["PYTHONPATH"] = str(ROOT / "tools") + os.pathsep + e.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "hakmem.cli", *args], env=e, capture_output=True,
                          text=True, timeout=timeout, cwd=str(cwd or ROOT))


class Drivers:
    def __init__(self, rendered: Path, build: Path):
        self.rendered, self.build = rendered, build
        self.cc = shutil.which("cc") or shutil.which("gcc") or "cc"
        self.san = _sanitizer_flags(self.cc, build)
        self._cache: dict[str, Driver] = {}

    def __call__(self, mode: str) -> Driver:
        if mode not in self._cache:
            gen = HERE / "c" / "fake" if mode == FAKE else self.rendered / mode
            exe = self.build / f"driver-{mode}"
            cmd = [self.cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-g", *self.san,
                   f'-DHAK_VARIANT_NAME="{VARIANT}"', f"-I{ROOT / 'include'}", f"-I{ROOT / 'src'}",
                   f"-I{ROOT / 'src' / 'config'}", f"-I{gen}",
                   *map(str, DRIVER_SOURCES), str(gen / "hak_options.c"), "-o", str(exe)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
            self._cache[mode] = Driver(mode, exe)
        return self._cache[mode]




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
