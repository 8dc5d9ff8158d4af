"""Helpers of the learning tests: compile the C drivers, read profile env files, run with a timeout.

Binaries go to build/tests-learn/ and are rebuilt when a source (or the linked .so) is newer;
compilation holds a file lock so pytest-xdist workers never race.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
BUILD = ROOT / "build" / "tests-learn"
LEARN_SRC = ROOT / "src" / "learn"
CORE_C = TESTS / "core" / "c"
PROFILES = ROOT / "profiles"

for _p in (str(TESTS), str(ROOT / "tools")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import support  # noqa: E402  (ROOT, MODES, so_path, ensure_built)
from hakmem import loader  # noqa: E402

LEARN_FILES = ["alloc_learn.c", "cap_learn.c", "mem_learn.c", "elo.c"]
LEARNING_MODES = [m for m in support.MODES if loader.resolve_mode(m).features.get("alloc_learn")]
TSAN_OPTIONS = "halt_on_error=1:second_deadlock_stack=1:exitcode=66:report_signal_unsafe=0"


def decide_driver() -> Path:
    """tests/learn/c/decide.c with the learners' pure decision functions, no allocator."""
    srcs = [HERE / "c" / "decide.c"] + [LEARN_SRC / f for f in LEARN_FILES]
    cmd = ["gcc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-DHAK_LEARN_PURE_ONLY",
           f"-I{LEARN_SRC}", *map(str, srcs)]
    return support.compile_once(BUILD / "decide", cmd, srcs + [LEARN_SRC / "learn.h"])


def tsan_driver(name: str, mode: str) -> Path:
    """A multi-threaded program built with -fsanitize=thread against out/<mode>/tsan/libhakmem.so.

    name "stress_mt": tests/core/c/stress_mt.c through the hak_* API (HAK_PREFIXED).
    name "larson": bench/larson.c with the malloc family renamed to hak_* by the preprocessor.
    name "phase_shift": bench/phase_shift.c, likewise."""
    so = support.so_path(mode, "tsan")
    base = ["gcc", "-std=gnu11", "-O1", "-g", "-pthread", "-fsanitize=thread", "-fno-omit-frame-pointer",
            f"-I{ROOT / 'include'}"]
    if name == "stress_mt":
        src = CORE_C / "stress_mt.c"
        cmd = base + ["-DHAK_PREFIXED", f"-I{CORE_C}", str(src)]
        deps = [src, CORE_C / "hakc.h"]
    else:
        src = ROOT / "bench" / f"{name}.c"
        rename = [f"-D{f}=hak_{f}" for f in ("malloc", "free", "calloc", "realloc")]
        cmd = base + ["-include", "stdlib.h", "-include", str(ROOT / "include" / "hakmem.h"), *rename,
                      f"-I{ROOT / 'bench'}", str(src)]
        deps = [src, ROOT / "bench" / "bench_common.h"]
    cmd += [str(so), f"-Wl,-rpath,{so.parent}", "-fsanitize=thread", "-ldl"]
    return support.compile_once(BUILD / mode / "tsan" / name, cmd, deps + [so, Path(__file__)])


def plain_driver(name: str) -> Path:
    """tests/learn/c/<name>.c built plainly (the allocator comes by LD_PRELOAD)."""
    src = HERE / "c" / f"{name}.c"
    cmd = ["gcc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-fno-builtin", str(src)]
    return support.compile_once(BUILD / "plain" / name, cmd, [src])


def bench_program(name: str) -> Path:
    """bench/<name>.c built plainly (the allocator comes by LD_PRELOAD)."""
    src = ROOT / "bench" / f"{name}.c"
    cmd = ["gcc", "-O2", "-std=c11", "-Wall", "-Wextra", "-pthread", "-fno-builtin-malloc", "-fno-builtin-free",
           "-fno-builtin-calloc", "-fno-builtin-realloc", f"-I{ROOT / 'bench'}", str(src)]
    return support.compile_once(BUILD / "plain" / name, cmd, [src, ROOT / "bench" / "bench_common.h"])


def profile_env(name: str) -> dict[str, str]:
    """KEY=VALUE lines of profiles/<name>.env (comments and blank lines skipped)."""
    env: dict[str, str] = {}
    for line in (PROFILES / f"{name}.env").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip()] = v.strip()
    return env


clean_env = support.clean_env


@dataclass
class Result:
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    def describe(self, note: str = "") -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-30:])
        what = "timed out" if self.timed_out else (
            f"killed by signal {-self.returncode}" if self.returncode < 0 else f"exit {self.returncode}")
        return f"{note}{' '.join(self.cmd)} -> {what}\n--- stdout (tail) ---\n" \
               f"{chr(10).join(self.stdout.splitlines()[-10:])}\n--- stderr (tail) ---\n{tail}"

    def result_line(self) -> dict[str, str]:
        for line in self.stdout.splitlines():
            if line.startswith("RESULT "):
                return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        return {}


def run(cmd: Sequence[str], env: Mapping[str, str], timeout: float) -> Result:
    """Run in its own process group; the whole group is killed on timeout."""
    return Result(list(map(str, cmd)), *support.run_group(cmd, env, timeout))
