"""SCons glue: the actions and source lists SConstruct uses. No SCons import here.

Each action takes (target, source, env) like any SCons Python action, prints a
ConfigError as `FILE: KEY: REASON` (no traceback) and returns non-zero on it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import ROOT, loader, render
from .schema import ConfigError

GENERATOR_SOURCES = [ROOT / "tools" / "hakmem" / m for m in render.GENERATOR_MODULES]
VERSION = "0.1.0"


def report(err: ConfigError) -> None:
    print(err, file=sys.stderr)


def mode_file_sources(mode: str, filename: str) -> list[Path]:
    """Everything generated/<mode>/<filename> depends on: YAML, its template, the generator."""
    template = render.MODE_FILES[filename][0]
    return (render.mode_sources(mode, filename) + [render.TEMPLATES_DIR / template]
            + GENERATOR_SOURCES)


def docs_sources() -> list[Path]:
    return (loader.source_files() + [loader.MODES_DIR / loader.VARIANTS_FILE,
                                     render.TEMPLATES_DIR / render.DOCS_TEMPLATE] + GENERATOR_SOURCES)


def install_sources(template: str) -> list[Path]:
    """What an installed generated file (hakmem.pc, hakmem-run) depends on: its template and
    options.yaml, where the default mode is declared."""
    return [render.TEMPLATES_DIR / template, loader.MODES_DIR / loader.OPTIONS_FILE]


def pc_sources() -> list[Path]:
    return install_sources(render.PC_TEMPLATE)


def runner_sources() -> list[Path]:
    return install_sources(render.RUNNER_TEMPLATE)


def _generate(target, text) -> int:
    """Write target[0] from text() unless it is unchanged; a ConfigError is reported, not raised."""
    try:
        content = text()
    except ConfigError as err:
        report(err)
        return 1
    render.write_if_changed(Path(str(target[0].abspath)), content)
    return 0


def generate_mode_file(target, source, env) -> int:
    """Render one generated/<mode>/<file>; the mode is env['HAK_MODE']."""
    name = Path(str(target[0].abspath)).name
    return _generate(target, lambda: render.render_mode_file(env["HAK_MODE"], name))


def generate_docs(target, source, env) -> int:
    return _generate(target, render.render_docs)


def generate_pc(target, source, env) -> int:
    return _generate(target, lambda: render.render_pc(env["HAK_PREFIX"], loader.default_mode(),
                                                      VERSION))


def generate_runner(target, source, env) -> int:
    """bin/hakmem-run for env['HAK_PREFIX'], preloading env['HAK_VARIANT'] of the default mode."""
    return _generate(target, lambda: render.render_runner(env["HAK_PREFIX"], loader.default_mode(),
                                                          env["HAK_VARIANT"]))


def split_linkflags(flags: list[str]) -> tuple[list[str], list[str]]:
    """-l<name> flags go after the objects (LIBS), the rest before (SHLINKFLAGS)."""
    libs = [f[2:] for f in flags if f.startswith("-l")]
    rest = [f for f in flags if not f.startswith("-l")]
    return rest, libs


def scons_defines(defines: dict) -> list:
    """CPPDEFINES entries; a string define ('"release"') is escaped for the shell."""
    out = []
    for name, value in defines.items():
        if isinstance(value, str) and value.startswith('"'):
            value = '\\"' + value[1:-1] + '\\"'
        out.append((name, value))
    return out


def c_sources(src_dir: Path | str) -> list[str]:
    """Every .c under src/ (recursively), relative to the repository root, sorted."""
    src_dir = Path(src_dir)
    return sorted(p.relative_to(src_dir.parent).as_posix() for p in src_dir.rglob("*.c"))


def schema_sources() -> list[Path]:
    return GENERATOR_SOURCES


def generate_schemas(target, source, env) -> int:
    """generated/schema/*.schema.json: JSON Schemas of the YAML files, for editors."""
    texts = render.json_schemas()
    for t in target:
        path = Path(str(t.abspath))
        render.write_if_changed(path, texts[path.name])
    return 0


_tree_lock = None


def hold_tree_lock(out_dir: str) -> None:
    """Serialise SCons runs on one tree: two at once would write the same objects.

    Takes an exclusive flock on <out>/.scons.lock and keeps it until the process exits."""
    import fcntl
    import os

    global _tree_lock
    if _tree_lock is not None:
        return
    os.makedirs(out_dir, exist_ok=True)
    f = open(os.path.join(out_dir, ".scons.lock"), "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("scons: another build is running in this tree; waiting for it", file=sys.stderr)
        fcntl.flock(f, fcntl.LOCK_EX)
    _tree_lock = f
