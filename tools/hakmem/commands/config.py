"""hakmem config: the effective configuration, as the library itself resolves it.

Runs a child python3 with out/<mode>/<variant>/libhakmem.so preloaded (so the library
starts exactly as under `hakmem run`, from this environment plus the ENV=VALUE arguments)
and prints what its hak_config_dump() writes, reached through ctypes: every knob, its
value and where it came from (default, mode preset, env, deprecated alias). Nothing is
re-implemented here; the library's own messages about bad values go to stderr.
(Preloading rather than dlopen: the library keeps its per-thread caches in initial-exec
TLS, which a dlopen()ed object cannot always get.)"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

from .. import envcheck, libpath, loader
from ..schema import ENV_PREFIX

_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)

# Runs in the child, the library already preloaded: make sure it initialised, then dump.
CHILD = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])   # the preloaded object: same handle, no second copy
if hasattr(lib, "hak_malloc"):
    lib.hak_malloc.restype = ctypes.c_void_p
    lib.hak_free.argtypes = [ctypes.c_void_p]
    lib.hak_free(lib.hak_malloc(16))
sys.stdout.flush()
lib.hak_config_dump(1, int(sys.argv[2]))
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the effective configuration, from the .so itself",
                       description=__doc__)
    p.add_argument("--mode", help="mode whose library to ask (default: the default mode)")
    p.add_argument("--variant", default="release", choices=libpath.PRELOADABLE,
                   help="release (default) or debug")
    p.add_argument("--json", action="store_true", help="JSON instead of the text table")
    p.add_argument("--clean", action="store_true",
                   help="ignore HAKMEM_* variables of the current environment")
    p.add_argument("--env-file", action="append", default=[], metavar="FILE",
                   help="add the KEY=VALUE lines of FILE (a profile; repeatable, later files "
                        "win); its `# hakmem-mode:` comment is the default --mode")
    p.add_argument("--no-build", action="store_true", help="fail instead of building a missing .so")
    p.add_argument("assign", nargs="*", metavar="ENV=VALUE", help="variables to set for the query")
    p.set_defaults(func=run)


def child_env(assign: list[str], clean: bool, files: list[envcheck.EnvFile] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (clean and k.startswith(ENV_PREFIX))}
    for f in files:
        env.update({e.name: e.value for e in f.entries})
    for a in assign:
        m = _ASSIGN.fullmatch(a)
        if not m:
            raise ValueError(f"'{a}' is not ENV=VALUE")
        env[m.group(1)] = m.group(2)
    return env


def run(args: argparse.Namespace) -> int:
    try:
        files = [envcheck.read_env_file(f) for f in args.env_file]
        env = child_env(args.assign, args.clean, files)
        file_mode = next((f.mode for f in reversed(files) if f.mode), None)
        mode = args.mode or file_mode or loader.default_mode()
    except OSError as exc:
        print(f"hakmem config: cannot read {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (ValueError, loader.ConfigError) as exc:
        print(f"hakmem config: {exc}", file=sys.stderr)
        return 2
    if not libpath.preload("hakmem config", env, mode, args.variant, build=not args.no_build):
        return 2
    so = libpath.so_path(mode, args.variant)
    sys.stdout.flush()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(so), "1" if args.json else "0"],
                          env=env)
    if proc.returncode != 0:
        print(f"hakmem config: querying {so.name} failed (exit {proc.returncode})",
              file=sys.stderr)
        return 1
    return 0
