"""One run of one benchmark program under one allocator.

Throughput comes from the program's RESULT line; page faults and CPU time from
the child's own rusage (`os.wait4`); peak RSS from the VmHWM the program reports
(the child's ru_maxrss would also count the launching Python process from before
exec), falling back to ru_maxrss. A *profile* run (separate from the
measured ones, so counting never slows a measured run) adds memory-syscall counts:
hakmem's own, from the JSON its stats feature writes to `HAKMEM_STATS_FILE`, and,
when `strace` is installed, the kernel-side count for every allocator.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, asdict
from pathlib import Path

from hakmem import ROOT, loader
from hakmem.bench.allocators import Allocator
from hakmem.schema import ENV_PREFIX

MEMORY_SYSCALLS = "mmap,munmap,mremap,madvise,brk,mprotect"

OK = "ok"


@dataclass
class Run:
    scenario: str
    allocator: str
    rep: int                     # repetition index (warm-ups are negative)
    kind: str = "measure"        # measure | warmup | profile
    status: str = OK             # ok | crash (SIGSEGV) | exit 3 | timeout | no result
    returncode: int | None = None
    ops: float | None = None
    seconds: float | None = None
    ops_per_sec: float | None = None
    ns_per_op: float | None = None
    cpu_seconds: float | None = None      # process CPU time over the measured region
    cpu_ops_per_sec: float | None = None  # ops / cpu_seconds
    checksum: str | None = None
    wall_s: float | None = None
    maxrss_kib: int | None = None         # peak RSS: the program's VmHWM, else rusage
    rusage_maxrss_kib: int | None = None  # ru_maxrss (also counts the launcher before exec)
    minflt: int | None = None
    majflt: int | None = None
    utime_s: float | None = None
    stime_s: float | None = None
    nvcsw: int | None = None
    nivcsw: int | None = None
    syscalls: int | None = None           # hakmem's own count (stats JSON)
    syscalls_detail: dict | None = None
    kernel_syscalls: int | None = None    # strace -c over MEMORY_SYSCALLS
    kernel_syscalls_detail: dict | None = None
    result: dict = field(default_factory=dict)  # every key of the RESULT line
    command: str = ""
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict:
        return asdict(self)


def parse_result_line(text: str) -> dict | None:
    """The last `RESULT key=value ...` line of a program's output, values typed."""
    line = None
    for candidate in text.splitlines():
        if candidate.startswith("RESULT "):
            line = candidate
    if line is None:
        return None
    out: dict = {}
    for token in line.split()[1:]:
        if "=" not in token:
            continue
        key, value = token.split("=", 1)
        out[key] = _number(value) if key != "checksum" else value
    return out


def _number(value: str):
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def read_stats_syscalls(path: Path) -> tuple[int | None, dict | None]:
    """`syscalls` from hakmem's stats JSON: a number or an object of counts.

    Tolerates a missing or partial file (the stats feature may be compiled out)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, None
    value = data.get("syscalls") if isinstance(data, dict) else None
    if isinstance(value, bool) or value is None:
        return None, None
    if isinstance(value, (int, float)):
        return int(value), None
    if isinstance(value, dict):
        flat = _flatten_counts(value)
        if "total" in flat:
            return flat["total"], flat
        # Sum the call counters only: hakmem also reports volumes ("mmap_bytes").
        calls = [v for k, v in flat.items() if not k.endswith("bytes")]
        return (sum(calls) if calls else None), flat
    return None, None


def _flatten_counts(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out[prefix + str(k)] = int(v)
        elif isinstance(v, dict):
            out.update(_flatten_counts(v, f"{prefix}{k}."))
    return out


_STRACE_ROW = re.compile(r"^\s*(\d+)\s+([a-z_0-9]+)\s*$")


def parse_strace_counts(text: str) -> tuple[int | None, dict]:
    """Parse `strace -c -U calls,name` output into (total, {syscall: calls})."""
    counts: dict = {}
    total = None
    for line in text.splitlines():
        m = _STRACE_ROW.match(line)
        if not m:
            continue
        if m.group(2) == "total":
            total = int(m.group(1))
        else:
            counts[m.group(2)] = int(m.group(1))
    if total is None and counts:
        total = sum(counts.values())
    return total, counts


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a run: the caller's, without preloads or HAKMEM_ knobs
    (so a stray variable cannot skew a comparison), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith(ENV_PREFIX)}
    env.update(extra or {})
    return env


def display_command(argv: list[str], env_delta: dict[str, str]) -> str:
    def rel(s: str) -> str:
        try:
            return str(Path(s).relative_to(ROOT))
        except ValueError:
            return s
    parts = [f"{k}={shlex.quote(rel(v))}" for k, v in env_delta.items()]
    parts += [shlex.quote(rel(a)) for a in argv]
    return " ".join(parts)


def run_program(binary: Path, args: list[str], allocator: Allocator, *, scenario: str,
                rep: int, kind: str = "measure", timeout: float = 300.0,
                env: dict[str, str] | None = None) -> Run:
    """Run binary once under allocator and collect everything we measure."""
    delta: dict[str, str] = {}
    if allocator.preload:
        delta["LD_PRELOAD"] = allocator.preload
    if allocator.is_hakmem and env:
        delta.update(env)
    argv = [str(binary), *args]
    run = Run(scenario=scenario, allocator=allocator.name, rep=rep, kind=kind,
              command=display_command(argv, delta))
    work = Path(tempfile.mkdtemp(prefix="hakbench-"))
    try:
        run_env = dict(delta)
        stats_file = work / "stats.json"
        strace_file = work / "strace.txt"
        if kind == "profile" and allocator.is_hakmem:
            opts = loader.load_options()
            run_env[opts.option("stats_enable").env] = "1"
            run_env[opts.option("stats_file").env] = str(stats_file)
        full_argv, proc_env = argv, run_env
        if kind == "profile" and shutil.which("strace"):
            # The preload and knobs go to the traced program only (-E): strace itself
            # must not run on the allocator under test, nor write its stats file.
            full_argv = ["strace", "-f", "-c", "-U", "calls,name", "-e",
                         f"trace={MEMORY_SYSCALLS}", "-o", str(strace_file)]
            for k, v in run_env.items():
                full_argv += ["-E", f"{k}={v}"]
            full_argv += argv
            proc_env = {}
        _execute(full_argv, base_env(proc_env), timeout, run, work)
        if kind == "profile":
            if allocator.is_hakmem:
                run.syscalls, run.syscalls_detail = read_stats_syscalls(stats_file)
            if strace_file.exists():
                run.kernel_syscalls, run.kernel_syscalls_detail = \
                    parse_strace_counts(strace_file.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return run


def _execute(argv: list[str], env: dict[str, str], timeout: float, run: Run,
             work: Path) -> None:
    out_path, err_path = work / "stdout", work / "stderr"
    timed_out = threading.Event()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env)

        def expire() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        run.wall_s = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    run.returncode = code
    run.maxrss_kib = run.rusage_maxrss_kib = int(usage.ru_maxrss)  # KiB on Linux
    run.minflt, run.majflt = int(usage.ru_minflt), int(usage.ru_majflt)
    run.utime_s, run.stime_s = usage.ru_utime, usage.ru_stime
    run.nvcsw, run.nivcsw = int(usage.ru_nvcsw), int(usage.ru_nivcsw)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    run.stderr_tail = "\n".join(stderr.strip().splitlines()[-5:])
    if timed_out.is_set():
        run.status = f"timeout ({timeout:g} s)"
        return
    if code < 0:
        import signal
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        run.status = f"crash ({name})"
        return
    if code != 0:
        run.status = f"exit {code}"
        return
    result = parse_result_line(stdout)
    if result is None:
        run.status = "no result"
        return
    run.result = result
    for key in ("ops", "seconds", "ops_per_sec", "ns_per_op", "cpu_seconds"):
        value = result.get(key)
        if isinstance(value, (int, float)):
            setattr(run, key, float(value))
    run.checksum = str(result.get("checksum")) if "checksum" in result else None
    if run.ops and run.cpu_seconds and run.cpu_seconds > 0:
        run.cpu_ops_per_sec = run.ops / run.cpu_seconds
    peak = result.get("peak_rss_kib")
    if isinstance(peak, int) and peak > 0:
        run.maxrss_kib = peak
