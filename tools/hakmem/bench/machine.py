"""Where a run came from: CPU, kernel, C library and allocator versions, commit."""
from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone

from hakmem import ROOT
from hakmem.bench.allocators import PEERS, dpkg_version


def _cmd(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    for line in _cmd(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> dict:
    versions = {name: dpkg_version(pkg) for name, (_, pkg) in PEERS.items()}
    commit = _cmd(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = bool(_cmd(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src",
                       "include", "modes"]))
    mem_kib = None
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": round(mem_kib / 1048576, 1) if mem_kib else None,
        "kernel": platform.release(),
        "os": _os_name(),
        "versions": versions,
        "compiler": _cmd(["gcc", "--version"]).splitlines()[0] if _cmd(["gcc", "--version"]) else "",
        "python": platform.python_version(),
        "commit": commit + ("+dirty" if dirty else "") if commit else None,
        "thp": _read("/sys/kernel/mm/transparent_hugepage/enabled"),
    }


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()
