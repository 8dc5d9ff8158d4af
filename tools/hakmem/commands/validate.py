"""hakmem validate: check HAKMEM_* settings against modes/options.yaml."""
from __future__ import annotations

import argparse
import os
import sys

from .. import envcheck, loader
from ..schema import ENV_PREFIX

EPILOG = """\
Output: one line per HAKMEM_* variable, in the words the library itself uses:
  [OK] HAKMEM_X=v                      accepted as given
  [WARN] ...                           unknown name (with the closest known one), a
                                       variable set twice, quotes docker would keep, or
                                       (with --mode) a knob of a feature that mode compiles out
  [DEPRECATED] HAKMEM_OLD is deprecated, use HAKMEM_NEW instead (sunset YYYY-MM-DD)
  [ERROR] HAKMEM_X=v: reason (allowed range/choices)   the library would ignore it
Variables that do not start with HAKMEM_ are not looked at.

Exit status:
  0  no errors (warnings and deprecations are allowed unless --strict)
  1  --strict and at least one warning or deprecation, no errors
  2  usage problem: bad arguments, unreadable env file, unknown --mode
  3  at least one error: a value the library would reject, or a malformed env-file line
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check HAKMEM_* settings against options.yaml",
                       description=__doc__, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-file", metavar="FILE",
                   help="check KEY=VALUE lines of FILE (systemd EnvironmentFile / docker "
                        "--env-file / `set -a; source`) instead of the current environment")
    p.add_argument("--strict", action="store_true",
                   help="treat warnings and deprecations as failures (exit 1)")
    p.add_argument("--quiet", action="store_true",
                   help="print only the lines that make the exit status non-zero")
    p.add_argument("--mode", metavar="MODE",
                   help="also warn about knobs of features MODE's library compiles out "
                        "(default for an env file: its `# hakmem-mode: MODE` comment, if any)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        names = loader.mode_names()
    except loader.ConfigError as exc:
        print(f"hakmem validate: {exc}", file=sys.stderr)
        return envcheck.EXIT_USAGE
    if args.mode and args.mode not in names:
        print(f"hakmem validate: unknown mode '{args.mode}' (one of {', '.join(names)})",
              file=sys.stderr)
        return envcheck.EXIT_USAGE

    findings: list[envcheck.Finding] = []
    mode = args.mode
    if args.env_file:
        try:
            parsed = envcheck.read_env_file(args.env_file)
        except OSError as exc:
            print(f"hakmem validate: cannot read {args.env_file}: {exc.strerror or exc}",
                  file=sys.stderr)
            return envcheck.EXIT_USAGE
        if mode is None and parsed.mode is not None:
            if parsed.mode not in names:
                print(f"hakmem validate: {args.env_file}: `# hakmem-mode: {parsed.mode}` names "
                      f"no mode (one of {', '.join(names)})", file=sys.stderr)
                return envcheck.EXIT_USAGE
            mode = parsed.mode
        findings += parsed.findings
        entries = parsed.entries
    else:
        entries = envcheck.entries_from_environ(dict(sorted(os.environ.items())))

    findings += envcheck.check(entries, mode=mode)
    code = envcheck.exit_code(findings, args.strict)

    failing = {envcheck.ERROR} | ({envcheck.WARN, envcheck.DEPRECATED} if args.strict else set())
    for f in findings:
        if not args.quiet or f.level in failing:
            print(f.line())
    if not args.quiet:
        count = {lv: sum(1 for f in findings if f.level == lv) for lv in envcheck.LEVELS}
        if not any(e.name.startswith(ENV_PREFIX) for e in entries) and not findings:
            print("no HAKMEM_* variables set")
        print(f"{count['OK']} ok, {count['WARN']} warning(s), {count['DEPRECATED']} "
              f"deprecated, {count['ERROR']} error(s)"
              + (f" (checked against mode {mode})" if mode else "")
              + (" [strict]" if args.strict else ""))
    return code
