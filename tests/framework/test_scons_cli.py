"""The SCons command line: typed options, generated help, unknown variables, install."""
from __future__ import annotations

import pytest

import support
from support import MODES, ROOT, VARIANTS


def test_help_lists_modes_variants_and_options():
    proc = support.scons("-h")
    assert proc.returncode == 0, proc.stderr
    for word in MODES + VARIANTS + ["mode:", "variant:", "PREFIX:", "install", "docs", "libhakmem.a",
                                    "bin/hakmem-run"]:
        assert word in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["moed=fast"], "unknown variable(s): moed"),
    (["mode=fastest"], "modes/: fastest: unknown mode (did you mean 'fast'?)"),
    (["variant=asna"], "modes/variants.yaml: asna: unknown variant (did you mean 'asan'?)"),
])
def test_bad_command_line(args, message):
    proc = support.scons("-Q", "-n", *args)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_install(built, tmp_path):
    prefix = tmp_path / "prefix"
    with support.build_lock():
        proc = support.scons("-Q", "install", f"PREFIX={prefix}", "mode=all", "variant=release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for m in MODES:
        assert (prefix / "lib" / "hakmem" / m / "libhakmem.so").read_bytes() == \
            support.so_path(m, "release").read_bytes()
    assert (prefix / "lib" / "libhakmem.so").read_bytes() == support.so_path("balanced", "release").read_bytes()
    assert (prefix / "include" / "hakmem.h").read_text() == (ROOT / "include" / "hakmem.h").read_text()
    pc = (prefix / "lib" / "pkgconfig" / "hakmem.pc").read_text()
    assert f"prefix={prefix}\n" in pc and "Libs: -L${libdir} -lhakmem" in pc
