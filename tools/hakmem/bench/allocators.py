"""Allocator names -> what to LD_PRELOAD.

`glibc` preloads nothing; `mimalloc`, `jemalloc`, `tcmalloc` are Debian's packages;
`hakmem-<mode>` is `out/<mode>/release/libhakmem.so`, brought up to date with
`scons mode=<mode> variant=release` first (unless building is disabled); `NAME=/path/to/lib.so` names any other library. An allocator that
cannot be used keeps its place in the results with a status saying why.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, asdict
from pathlib import Path

from hakmem import ROOT

OK = "ok"
NOT_INSTALLED = "not installed"
BUILD_FAILED = "build failed"
NOT_AN_ALLOCATOR = "no malloc exported"

LIB_DIRS = [Path("/usr/lib/x86_64-linux-gnu"), Path("/lib/x86_64-linux-gnu"),
            Path("/usr/lib64"), Path("/usr/lib"), Path("/usr/local/lib")]

# name -> (candidate sonames, Debian package that ships them)
PEERS: dict[str, tuple[tuple[str, ...], str]] = {
    "glibc": ((), "libc6"),
    "mimalloc": (("libmimalloc.so.2", "libmimalloc.so"), "libmimalloc2.0"),
    "jemalloc": (("libjemalloc.so.2", "libjemalloc.so"), "libjemalloc2"),
    "tcmalloc": (("libtcmalloc_minimal.so.4", "libtcmalloc_minimal.so",
                  "libtcmalloc.so.4"), "libtcmalloc-minimal4"),
}
DEFAULT_ALLOCATORS = ["hakmem-fast", "glibc", "mimalloc", "jemalloc", "tcmalloc"]
FALLBACK_MODES = ["minimal", "fast", "balanced", "learning", "research"]


@dataclass
class Allocator:
    name: str
    preload: str | None = None      # path for LD_PRELOAD; None = the system malloc
    status: str = OK
    detail: str = ""
    package: str | None = None      # Debian package, for versions in the report
    version: str | None = None
    mode: str | None = None         # hakmem mode, for hakmem-<mode>

    @property
    def usable(self) -> bool:
        return self.status == OK

    @property
    def is_hakmem(self) -> bool:
        return self.mode is not None

    def to_dict(self) -> dict:
        return asdict(self)


def hakmem_modes(root: Path = ROOT) -> list[str]:
    """The mode names declared under modes/ (one YAML per mode)."""
    skip = {"options", "variants"}
    found = sorted(p.stem for p in (root / "modes").glob("*.yaml") if p.stem not in skip)
    if not found:
        return list(FALLBACK_MODES)
    order = {m: i for i, m in enumerate(FALLBACK_MODES)}
    return sorted(found, key=lambda m: (order.get(m, len(order)), m))


def hakmem_library(mode: str, root: Path = ROOT) -> Path:
    return root / "out" / mode / "release" / "libhakmem.so"


def dpkg_version(package: str) -> str | None:
    if not shutil.which("dpkg-query"):
        return None
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                          capture_output=True, text=True)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def exports_malloc(path: Path) -> bool | None:
    """True when the library defines a dynamic `malloc` symbol; None if nm is missing."""
    if not shutil.which("nm"):
        return None
    proc = subprocess.run(["nm", "-D", "--defined-only", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return any(line.split()[-1:] == ["malloc"] for line in proc.stdout.splitlines())


def _find_lib(sonames: tuple[str, ...]) -> Path | None:
    for d in LIB_DIRS:
        for so in sonames:
            if (d / so).exists():
                return d / so
    return None


def build_hakmem(mode: str, root: Path = ROOT, log_dir: Path | None = None) -> tuple[bool, str]:
    """Run `scons mode=<mode>`; return (ok, detail)."""
    if not (root / "SConstruct").exists():
        return False, "no SConstruct in the tree yet"
    scons = shutil.which("scons")
    if not scons:
        return False, "scons is not installed"
    cmd = [scons, f"mode={mode}", "variant=release", "-Q"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"build-{mode}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return False, f"`scons mode={mode} variant=release` failed: " + " | ".join(tail)
    return True, ""


def resolve(name: str, root: Path = ROOT, build: bool = True,
            log_dir: Path | None = None) -> Allocator:
    """Turn one allocator name into an Allocator (never raises for a missing one)."""
    if "=" in name:
        label, path = name.split("=", 1)
        p = Path(path).expanduser()
        if not p.exists():
            return Allocator(label, str(p), NOT_INSTALLED, f"{p} does not exist")
        return _checked(Allocator(label, str(p.resolve())))
    if name.startswith("hakmem-"):
        mode = name[len("hakmem-"):]
        lib = hakmem_library(mode, root)
        alloc = Allocator(name, str(lib), mode=mode)
        known = hakmem_modes(root)
        if mode not in known:
            alloc.status, alloc.detail = NOT_INSTALLED, f"unknown mode (known: {', '.join(known)})"
            return alloc
        # With building enabled, scons runs every time: it is incremental, and a
        # library older than its sources would silently measure stale code.
        if build:
            ok, detail = build_hakmem(mode, root, log_dir)
            if not ok and lib.exists():
                alloc.detail = f"{detail}; measured the existing {lib.name}"
        else:
            ok, detail = lib.exists(), "not built (building disabled)"
        if not lib.exists():
            alloc.status = BUILD_FAILED if build and (root / "SConstruct").exists() \
                else NOT_INSTALLED
            alloc.detail = detail or f"{lib} was not produced"
            return alloc
        return _checked(alloc)
    if name in PEERS:
        sonames, package = PEERS[name]
        alloc = Allocator(name, None, package=package, version=dpkg_version(package))
        if not sonames:
            return alloc
        lib = _find_lib(sonames)
        if lib is None:
            alloc.status = NOT_INSTALLED
            alloc.detail = f"none of {', '.join(sonames)} found; apt-get install {package}"
            return alloc
        alloc.preload = str(lib)
        return _checked(alloc)
    return Allocator(name, None, NOT_INSTALLED,
                     "unknown allocator (use glibc, mimalloc, jemalloc, tcmalloc, "
                     "hakmem-<mode> or NAME=/path/lib.so)")


def _checked(alloc: Allocator) -> Allocator:
    exported = exports_malloc(Path(alloc.preload)) if alloc.preload else True
    if exported is False:
        alloc.status = NOT_AN_ALLOCATOR
        alloc.detail = f"{alloc.preload} does not define malloc (a stub build?)"
    return alloc


def resolve_all(names: list[str], root: Path = ROOT, build: bool = True,
                log_dir: Path | None = None) -> list[Allocator]:
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return [resolve(n, root, build, log_dir) for n in seen]
