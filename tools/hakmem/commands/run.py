"""hakmem run: run a command with a mode's libhakmem.so preloaded (built when missing).

The exit status is the command's own (128+N when a signal N ended it); 127 when the
command cannot be started, 2 for a usage problem or a library that cannot be built."""
from __future__ import annotations

import argparse
import os
import sys

from .. import libpath, loader


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a command with libhakmem.so preloaded",
                       description=__doc__,
                       usage="hakmem run [--mode M] [--variant V] [--no-build] -- CMD [ARG...]")
    p.add_argument("--mode", help="mode whose library to preload (default: the default mode)")
    p.add_argument("--variant", default="release", choices=libpath.PRELOADABLE,
                   help="release (default) or debug; the sanitizer variants cannot be preloaded")
    p.add_argument("--no-build", action="store_true", help="fail instead of building a missing .so")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("hakmem run: no command given (hakmem run [--mode M] -- CMD ...)", file=sys.stderr)
        return 2
    try:
        mode = args.mode or loader.default_mode()
    except loader.ConfigError as exc:
        print(f"hakmem run: {exc}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if not libpath.preload("hakmem run", env, mode, args.variant, build=not args.no_build):
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(cmd[0], cmd, env)   # the command's exit status is ours
    except OSError as exc:
        print(f"hakmem run: cannot run {cmd[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127
