"""hakmem validate: lines, exit codes, env files, profiles."""
from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout

import pytest

from cfgutil import ROOT, clean_env, hakmem_cli
from hakmem import cli, envcheck, loader

PROFILES = sorted((ROOT / "profiles").glob("*.env"))


def validate(*args: str, env: dict[str, str] | None = None):
    """`hakmem validate ARGS` in this process under exactly `env` (plus non-HAKMEM variables)."""
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(clean_env(**(env or {})))
        with redirect_stdout(out), redirect_stderr(err):
            try:
                rc = cli.main(["validate", *args])
            except SystemExit as exc:            # argparse usage errors
                rc = exc.code
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return rc, out.getvalue().splitlines(), err.getvalue()


def test_command_line_entry_point():
    p = hakmem_cli("validate", "--strict", env={"HAKMEM_TINY_TLS_CAP": "abc"})
    assert p.returncode == 3
    assert p.stdout.splitlines()[0] == "[ERROR] HAKMEM_TINY_TLS_CAP=abc: not an integer (allowed 16\u20131024)"


def test_clean_environment():
    rc, out, _ = validate(env={"HAKMEM_TINY_TLS_CAP": "128", "HAKMEM_THP": "auto"})
    assert rc == 0
    assert "[OK] HAKMEM_THP=auto" in out and "[OK] HAKMEM_TINY_TLS_CAP=128" in out
    assert out[-1] == "2 ok, 0 warning(s), 0 deprecated, 0 error(s)"


def test_nothing_set():
    rc, out, _ = validate(env={})
    assert rc == 0 and out[0] == "no HAKMEM_* variables set"


def test_error_line_names_value_and_range():
    rc, out, _ = validate(env={"HAKMEM_TINY_TLS_CAP": "abc"})
    assert rc == envcheck.EXIT_ERRORS == 3
    assert "[ERROR] HAKMEM_TINY_TLS_CAP=abc: not an integer (allowed 16\u20131024)" in out


def test_deprecated_line_names_replacement_and_sunset():
    rc, out, _ = validate(env={"HAKMEM_LEARN": "1"})
    assert rc == 0
    assert out[0] == ("[DEPRECATED] HAKMEM_LEARN is deprecated, use HAKMEM_ALLOC_LEARN instead "
                      "(sunset 2026-05-26)")
    rc, out, _ = validate("--strict", env={"HAKMEM_LEARN": "1"})
    assert rc == envcheck.EXIT_STRICT == 1


def test_deprecated_alias_with_bad_value_is_an_error_too():
    rc, out, _ = validate(env={"HAKMEM_LEARN": "perhaps"})
    assert rc == 3
    assert any(ln.startswith("[DEPRECATED] HAKMEM_LEARN") for ln in out)
    assert any(ln.startswith("[ERROR] HAKMEM_LEARN=perhaps: not a boolean") for ln in out)


def test_alias_and_canonical_both_set():
    rc, out, _ = validate(env={"HAKMEM_LEARN": "0", "HAKMEM_ALLOC_LEARN": "1"})
    assert rc == 0
    assert ("[DEPRECATED] HAKMEM_LEARN is deprecated, use HAKMEM_ALLOC_LEARN instead (sunset "
            "2026-05-26); ignored because HAKMEM_ALLOC_LEARN is set") in out
    assert "[OK] HAKMEM_ALLOC_LEARN=1" in out


def test_unknown_name_warns_with_suggestion():
    rc, out, _ = validate(env={"HAKMEM_TINY_TLS_CAPP": "64"})
    assert rc == 0
    assert out[0] == "[WARN] HAKMEM_TINY_TLS_CAPP is not a hakmem variable (did you mean HAKMEM_TINY_TLS_CAP?)"
    rc, _, _ = validate("--strict", env={"HAKMEM_TINY_TLS_CAPP": "64"})
    assert rc == 1


def test_errors_win_over_strict_warnings():
    rc, _, _ = validate("--strict", env={"HAKMEM_TINY_TLS_CAPP": "64", "HAKMEM_THP": "never"})
    assert rc == 3


def test_quiet_prints_errors_only():
    env = {"HAKMEM_TINY_TLS_CAPP": "64", "HAKMEM_THP": "never", "HAKMEM_TINY_TLS_CAP": "64"}
    rc, out, _ = validate("--quiet", env=env)
    assert rc == 3 and out == ["[ERROR] HAKMEM_THP=never: not one of off, auto, on"]
    rc, out, _ = validate("--quiet", env={"HAKMEM_TINY_TLS_CAP": "64"})
    assert rc == 0 and out == []
    rc, out, _ = validate("--quiet", "--strict", env={"HAKMEM_TINY_TLS_CAPP": "64"})
    assert rc == 1 and len(out) == 1 and out[0].startswith("[WARN]")


def test_unknown_mode_value_suggests_one():
    rc, out, _ = validate(env={"HAKMEM_MODE": "fsat"})
    assert rc == 3
    assert out[0] == ("[ERROR] HAKMEM_MODE=fsat: not one of minimal, fast, balanced, learning, "
                      "research, hardened (did you mean fast?)")


def test_mode_option_warns_about_compiled_out_features():
    env = {"HAKMEM_ALLOC_LEARN": "1", "HAKMEM_TINY_TLS_CAP": "64"}
    rc, out, _ = validate("--mode", "fast", env=env)
    assert rc == 0
    assert out[0] == ("[WARN] HAKMEM_ALLOC_LEARN=1: feature alloc_learn is not compiled into mode "
                      "fast; the value is ignored there; use out/learning/<variant>/libhakmem.so")
    rc, out, _ = validate("--mode", "learning", "--strict", env=env)
    assert rc == 0


def test_mode_option_warns_about_a_preset_needing_more():
    rc, out, _ = validate("--mode", "fast", "--strict", env={"HAKMEM_MODE": "learning"})
    assert rc == 1
    assert out[0].startswith("[WARN] HAKMEM_MODE=learning needs features alloc_learn")
    assert out[0].endswith("which mode fast does not compile in; use out/learning/<variant>/libhakmem.so")


def test_usage_problems_exit_2(tmp_path):
    rc, _, err = validate("--mode", "turbo", env={})
    assert rc == envcheck.EXIT_USAGE == 2 and "unknown mode 'turbo'" in err
    rc, _, err = validate("--env-file", str(tmp_path / "missing.env"), env={})
    assert rc == 2 and "cannot read" in err
    rc, _, _ = validate("--no-such-flag", env={})
    assert rc == 2


def test_help_documents_exit_codes():
    p = hakmem_cli("validate", "--help")
    assert p.returncode == 0
    for code in ("0  no errors", "1  --strict", "2  usage problem", "3  at least one error"):
        assert code in p.stdout


def test_env_file_syntax(tmp_path):
    f = tmp_path / "x.env"
    f.write_text("# comment\n\nexport HAKMEM_TINY_TLS_CAP=128\nHAKMEM_THP=\"auto\"\n"
                 "PATH_LIKE=/not/ours\n  HAKMEM_DEBUG_LEVEL = 1\nHAKMEM_DEBUG_LEVEL=2\n")
    rc, out, _ = validate("--env-file", str(f), env={"HAKMEM_THP": "garbage"})
    assert rc == 0                                    # the environment itself is not read
    assert "[OK] HAKMEM_TINY_TLS_CAP=128" in out
    assert "[OK] HAKMEM_THP=auto" in out
    assert any(ln.startswith("[WARN] x.env:4: HAKMEM_THP: quotes") for ln in out)
    assert "[WARN] HAKMEM_DEBUG_LEVEL is set twice (x.env:6 and x.env:7); the last one counts" in out
    assert "[OK] HAKMEM_DEBUG_LEVEL=2" in out
    assert not any("PATH_LIKE" in ln for ln in out)


def test_env_file_bad_line_is_an_error(tmp_path):
    f = tmp_path / "bad.env"
    f.write_text("HAKMEM_TINY_TLS_CAP 64\n")
    rc, out, _ = validate("--env-file", str(f))
    assert rc == 3 and out[0] == "[ERROR] bad.env:1: not a KEY=VALUE line: HAKMEM_TINY_TLS_CAP 64"


def test_env_file_trailing_comment_is_part_of_the_value(tmp_path):
    # systemd and docker keep it, so the library would see it: report what they would do
    f = tmp_path / "c.env"
    f.write_text("HAKMEM_TINY_TLS_CAP=64 # small\n")
    rc, out, _ = validate("--env-file", str(f))
    assert rc == 3 and out[0].startswith("[ERROR] HAKMEM_TINY_TLS_CAP=64 # small: not an integer")


def test_env_file_names_its_mode(tmp_path):
    f = tmp_path / "m.env"
    f.write_text("# hakmem-mode: fast\nHAKMEM_STATS_ENABLE=1\n")
    rc, out, _ = validate("--strict", "--env-file", str(f))
    assert rc == 1 and "feature stats is not compiled into mode fast" in out[0]
    assert out[-1].endswith("(checked against mode fast) [strict]")
    rc, _, _ = validate("--strict", "--mode", "balanced", "--env-file", str(f))
    assert rc == 0                                    # --mode wins over the comment
    f.write_text("# hakmem-mode: turbo\n")
    rc, _, err = validate("--env-file", str(f))
    assert rc == 2 and "names no mode" in err


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
def test_profile_passes_strict_validation(profile):
    rc, out, _ = validate("--strict", "--env-file", str(profile), env={})
    assert rc == 0, out
    parsed = envcheck.read_env_file(profile)
    assert parsed.entries, "a profile sets something"
    for e in parsed.entries:
        assert e.name.startswith("HAKMEM_")


@pytest.mark.parametrize("profile", [p for p in PROFILES if p.name.startswith("tiny-")],
                         ids=lambda p: p.name)
@pytest.mark.parametrize("mode", loader.mode_names())
def test_tiny_presets_suit_every_build(profile, mode):
    rc, out, _ = validate("--strict", "--mode", mode, "--env-file", str(profile), env={})
    assert rc == 0, out


@pytest.mark.parametrize("profile", [p for p in PROFILES if not p.name.startswith("tiny-")],
                         ids=lambda p: p.name)
def test_profiles_are_portable_env_files(profile):
    """systemd EnvironmentFile, docker --env-file and `set -a; .` read them alike."""
    parsed = envcheck.read_env_file(profile)
    assert parsed.mode in loader.mode_names(), "names its build with # hakmem-mode:"
    for raw in profile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        assert name.isidentifier() and " " not in value and "#" not in value
        assert not (value[:1] in "'\"" and value), "no quotes: docker would keep them"


def test_ultra_tight_preset_caps_every_class_at_32():
    parsed = envcheck.read_env_file(ROOT / "profiles" / "tiny-ultra-tight.env")
    ov = {e.name: e.value for e in parsed.entries}["HAKMEM_TINY_TLS_CLASS_OVERRIDE"]
    entries = [x.split(":") for x in ov.split(",")]
    assert sorted(int(c[0][1:]) for c in entries) == list(range(8))
    assert all(int(c[1]) == 32 for c in entries)


# -------------------------------------------------------------------- validator unit level

def test_reject_reason_matches_every_option_type():
    opts = loader.load_options()
    for o in opts.options:
        from cfgutil import other_value
        modes = loader.resolve_all()
        assert envcheck.reject_reason(o, other_value(o, modes["research"], modes)) is None, o.env


def test_edit_distance_is_case_insensitive():
    assert envcheck.edit_distance("hakmem_thp", "HAKMEM_THP") == 0
    assert envcheck.edit_distance("HAKMEM_THQ", "HAKMEM_THP") == 1
    assert envcheck.closest("HAKMEM_TPH", ["HAKMEM_THP", "HAKMEM_MODE"]) == "HAKMEM_THP"
