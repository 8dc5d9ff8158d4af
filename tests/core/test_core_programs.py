"""Real programs under LD_PRELOAD of the release and debug .so of every mode:
python3 (a JSON-heavy and a threaded script), sqlite3 (a 100k-row database),
git (init, commit, log), gcc (compile and run a C file) and redis-server
driven by redis-benchmark on loopback.

Each program's output must be identical to a run without the preload.  In
the modes that compile statistics in, hakmem's own counters
(HAKMEM_STATS_FILE, JSON written at exit) must show it served the program's
allocations."""
from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

import cbuild

pytestmark = pytest.mark.slow

ALLOC_FLOOR = 1000  # a real program makes far more allocations than this


class Step:
    """One process of a program run: its output and its stats file."""

    def __init__(self, name: str, res: cbuild.Result, stats: Path | None):
        self.name, self.res, self.stats = name, res, stats


class Runner:
    """Runs the commands of one program in `work`, with or without hakmem."""

    def __init__(self, work: Path, base_env: dict[str, str], stats: bool, label: str):
        self.work, self.base_env, self.stats, self.label = work, base_env, stats, label
        self.steps: list[Step] = []
        work.mkdir(parents=True, exist_ok=True)

    def env(self, name: str, extra: dict[str, str] | None = None) -> tuple[dict[str, str], Path | None]:
        env = dict(self.base_env)
        env.update(extra or {})
        path = None
        if self.stats:
            path = self.work / f"stats-{len(self.steps)}-{name}.json"
            env.update({"HAKMEM_STATS_ENABLE": "1", "HAKMEM_STATS_DUMP": "0",
                        "HAKMEM_STATS_FILE": str(path)})
        return env, path

    def __call__(self, name: str, cmd: list[str], extra: dict[str, str] | None = None,
                 timeout: float = 120, stdin: str | None = None, check: bool = True) -> cbuild.Result:
        env, path = self.env(name, extra)
        res = cbuild.run(cmd, env, timeout, cwd=self.work, stdin=stdin)
        self.steps.append(Step(name, res, path))
        if check:
            assert not res.timed_out and res.returncode == 0, f"[{self.label}] {name}: {res.describe()}"
        return res


# --------------------------------------------------------------------------- programs

def prog_python_json(r: Runner) -> str:
    return r("python-json", [sys.executable, str(cbuild.PROGRAMS / "json_heavy.py")]).stdout


def prog_python_threads(r: Runner) -> str:
    return r("python-threads", [sys.executable, str(cbuild.PROGRAMS / "threaded.py")],
             {"PYTHONMALLOC": "malloc"}).stdout


def _sql_file(path: Path, rows: int = 100_000) -> None:
    rng = random.Random(42)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    with path.open("w") as f:
        f.write("PRAGMA journal_mode=OFF;\nPRAGMA synchronous=OFF;\n")
        f.write("CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val INTEGER, note TEXT);\n")
        f.write("CREATE TABLE grp(id INTEGER PRIMARY KEY, label TEXT);\n")
        f.write("BEGIN;\n")
        for g in range(100):
            f.write(f"INSERT INTO grp VALUES({g},'group-{g:03d}-{words[g % 8]}');\n")
        for i in range(rows):
            note = words[rng.randrange(8)] * rng.randrange(1, 12)
            f.write(f"INSERT INTO item VALUES({i},'n{i:06d}-{words[i % 8]}',{rng.randrange(100)},"
                    f"{rng.randrange(10**6)},'{note}');\n")
        f.write("COMMIT;\n")
        f.write("CREATE INDEX item_grp ON item(grp, val);\n")
        f.write("SELECT count(*), sum(val), min(name), max(name) FROM item;\n")
        f.write("SELECT g.label, count(*), sum(i.val), max(length(i.note)) FROM item i JOIN grp g ON g.id = i.grp "
                "GROUP BY g.label ORDER BY g.label;\n")
        f.write("SELECT name, val FROM item WHERE grp = 7 ORDER BY val DESC, id LIMIT 15;\n")
        f.write("SELECT count(*) FROM item WHERE note LIKE '%thetatheta%';\n")
        f.write("SELECT grp, group_concat(id) FROM (SELECT grp, id FROM item WHERE val < 2000 ORDER BY id) "
                "GROUP BY grp ORDER BY grp LIMIT 10;\n")
        f.write("UPDATE item SET note = upper(note) WHERE id % 3 = 0;\n")
        f.write("DELETE FROM item WHERE id % 5 = 0;\n")
        f.write("SELECT count(*), sum(length(note)) FROM item;\n")
        f.write("VACUUM;\n")
        f.write("SELECT count(*) FROM item;\n")


def prog_sqlite3(r: Runner) -> str:
    sql = r.work / "build.sql"
    _sql_file(sql)
    out = r("sqlite3-build", ["sqlite3", "-batch", "db.sqlite"], stdin=sql.read_text(), timeout=240).stdout
    out += r("sqlite3-query", ["sqlite3", "-batch", "db.sqlite",
                               "SELECT grp, count(*), avg(val) FROM item GROUP BY grp ORDER BY 2 DESC, 1 LIMIT 5;"]).stdout
    return out


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Hak Mem", "GIT_AUTHOR_EMAIL": "hak@example.org",
    "GIT_COMMITTER_NAME": "Hak Mem", "GIT_COMMITTER_EMAIL": "hak@example.org",
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+0000", "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+0000",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_PAGER": "cat", "PAGER": "cat",
    "LC_ALL": "C", "TZ": "UTC",
}


def prog_git(r: Runner) -> str:
    repo = r.work / "repo"
    env = dict(GIT_ENV, HOME=str(r.work))
    git = ["git", "-C", str(repo)]
    out = []
    r("git-init", ["git", "init", "-q", "-b", "main", str(repo)], env)
    rng = random.Random(7)
    for c in range(6):
        for k in range(20):
            p = repo / f"dir{k % 4}" / f"file{k}.txt"
            p.parent.mkdir(exist_ok=True)
            lines = [f"commit {c} file {k} line {i} {rng.randrange(10**9)}" for i in range(rng.randrange(5, 200))]
            p.write_text("\n".join(lines) + "\n")
        r(f"git-add{c}", git + ["add", "-A"], env)
        r(f"git-commit{c}", git + ["commit", "-q", "-m", f"change {c}\n\nbody of change {c}"], env)
    out.append(r("git-log", git + ["log", "--stat", "--format=%H %an <%ae> %ad%n%s%n%b"], env).stdout)
    out.append(r("git-diff", git + ["diff", "HEAD~3", "HEAD", "--", "dir1"], env).stdout)
    out.append(r("git-show", git + ["show", "--format=%H %T", "HEAD~1:dir2/file2.txt"], env).stdout)
    r("git-gc", git + ["gc", "-q"], env)
    out.append(r("git-fsck", git + ["fsck", "--no-progress"], env).stdout)
    out.append(r("git-rev-list", git + ["rev-list", "--objects", "--all"], env).stdout)
    return "".join(out)


C_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char *text; unsigned long key; };
static int cmp(const void *a, const void *b) {
    const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : strcmp(x->text, y->text);
}
int main(void) {
    unsigned long s = 88172645463325252UL, sum = 0;
    enum { N = 50000 };
    struct node **v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        v[i] = malloc(sizeof **v);
        v[i]->key = s % 100000;
        v[i]->text = malloc(1 + s % 300);
        snprintf(v[i]->text, 1 + s % 300, "%lu-%d", s, i);
    }
    qsort(v, N, sizeof *v, cmp);
    for (int i = 0; i < N; i++) { sum = sum * 31 + v[i]->key + strlen(v[i]->text); }
    for (int i = 0; i < N; i++) { v[i]->text = realloc(v[i]->text, 2000); free(v[i]->text); free(v[i]); }
    free(v);
    printf("sorted %d nodes, checksum %lu\n", N, sum);
    return 0;
}
"""


def prog_gcc(r: Runner) -> str:
    (r.work / "prog.c").write_text(C_PROGRAM)
    # The compiler proper (cc1) gets its own stats file through gcc's -wrapper
    # (the driver, which exits last, would overwrite a shared one).
    cc1_stats = r.work / "stats-cc1.json"
    out = r("gcc-compile", ["gcc", "-O2", "-Wall", "-S", "-wrapper", f"env,HAKMEM_STATS_FILE={cc1_stats}",
                            "-o", "prog.s", "prog.c"]).stdout
    r.steps.append(Step("gcc-cc1", r.steps[-1].res, cc1_stats))
    out += r("gcc-assemble-link", ["gcc", "-O2", "-o", "prog", "prog.s"]).stdout
    out += r("gcc-run", [str(r.work / "prog")]).stdout
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prog_redis(r: Runner) -> str:
    for b in ("redis-server", "redis-cli", "redis-benchmark"):
        if not cbuild.have(b):
            pytest.skip(f"{b} not installed (scripts/setup.sh installs redis-server and redis-tools)")
    port = str(_free_port())
    env, stats = r.env("redis-server")
    log = (r.work / "redis.log").open("w")
    server = subprocess.Popen(
        ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--dir", str(r.work)],
        env=env, cwd=r.work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", port]
    out = []
    try:
        deadline = time.monotonic() + 30
        while True:
            ping = cbuild.run(cli + ["ping"], r.base_env, 10)
            if ping.stdout.strip() == "PONG":
                break
            assert server.poll() is None, f"[{r.label}] redis-server exited {server.returncode}: " + \
                (r.work / "redis.log").read_text()[-2000:]
            assert time.monotonic() < deadline, f"[{r.label}] redis-server did not answer PING"
            time.sleep(0.1)
        bench = r("redis-benchmark", ["redis-benchmark", "-h", "127.0.0.1", "-p", port, "-n", "20000", "-q",
                                      "-t", "set,get,lpush,lpop"], timeout=180)
        # requests per second vary; what must hold is that every test ran
        for t in ("SET", "GET", "LPUSH", "LPOP"):
            assert f"{t}: " in bench.stdout and "requests per second" in bench.stdout, bench.describe()
        out.append(r("redis-set", cli + ["set", "hak:greeting", "hello from hakmem"]).stdout)
        out.append(r("redis-mset", cli + ["mset"] + [f"hak:k{i}" if j == 0 else "v" * (i * 37 % 5000)
                                                     for i in range(200) for j in (0, 1)]).stdout)
        out.append(r("redis-rpush", cli + ["rpush", "hak:list"] + [f"e{i}" * (1 + i % 50) for i in range(300)]).stdout)
        out.append(r("redis-get", cli + ["get", "hak:greeting"]).stdout)
        out.append(r("redis-strlen", cli + ["strlen", "hak:k199"]).stdout)
        out.append(r("redis-lrange", cli + ["lrange", "hak:list", "295", "-1"]).stdout)
        out.append(r("redis-llen", cli + ["llen", "hak:list"]).stdout)
        out.append(r("redis-del", cli + ["del", "hak:list", "hak:k5"]).stdout)
        out.append(r("redis-dbsize", cli + ["dbsize"]).stdout)
        r("redis-shutdown", cli + ["shutdown", "nosave"], check=False)
        try:
            rc = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        assert rc == 0, f"[{r.label}] redis-server exit status {rc}: " + (r.work / "redis.log").read_text()[-2000:]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()
    r.steps.append(Step("redis-server", cbuild.Result(["redis-server"], server.returncode, "", ""), stats))
    return "".join(out)


PROGRAMS: dict[str, Callable[[Runner], str]] = {
    "python-json": prog_python_json,
    "python-threads": prog_python_threads,
    "sqlite3": prog_sqlite3,
    "git": prog_git,
    "gcc": prog_gcc,
    "redis": prog_redis,
}
BINARIES = {"sqlite3": "sqlite3", "git": "git", "gcc": "gcc", "redis": "redis-server"}
# The process whose counters must prove hakmem served the program.
PROOF_STEP = {
    "python-json": "python-json", "python-threads": "python-threads", "sqlite3": "sqlite3-build",
    "git": "git-log", "gcc": "gcc-cc1", "redis": "redis-server",
}


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """Each program's output without any preload, computed once per worker."""
    cache: dict[str, str] = {}

    def get(program: str) -> str:
        if program not in cache:
            work = tmp_path_factory.mktemp(f"baseline-{program}")
            cache[program] = PROGRAMS[program](Runner(work, cbuild.clean_env(), False, f"{program} without preload"))
        return cache[program]

    return get


def _load_stats(path: Path) -> dict:
    text = path.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"{path.name} is not valid JSON ({exc}): {text[:300]!r}") from None


@pytest.mark.parametrize("program", list(PROGRAMS))
@pytest.mark.parametrize("mode,variant", cbuild.cases(variants=cbuild.PRELOAD_VARIANTS))
def test_real_program(mode, variant, program, baselines, tmp_path):
    binary = BINARIES.get(program)
    if binary and not cbuild.have(binary):
        pytest.skip(f"{binary} not installed (scripts/setup.sh installs it)")
    expected = baselines(program)
    with_stats = mode in cbuild.STATS_MODES
    runner = Runner(tmp_path / "run", cbuild.preload_env(mode, variant), with_stats, f"{program} {mode}-{variant}")
    got = PROGRAMS[program](runner)
    assert got == expected, (f"{program} under {mode}-{variant}: output differs from the run without preload\n"
                             f"--- expected (first 1500 chars) ---\n{expected[:1500]}\n"
                             f"--- got ---\n{got[:1500]}")
    if not with_stats:
        return
    counts = {}
    for step in runner.steps:
        if step.stats is not None and step.stats.exists():
            totals = _load_stats(step.stats).get("totals", {})
            counts[step.name] = (int(totals.get("allocs", 0)), int(totals.get("frees", 0)))
    proof = PROOF_STEP[program]
    assert proof in counts, (f"{program} under {mode}-{variant}: step {proof!r} wrote no HAKMEM_STATS_FILE "
                             f"(stats files: {sorted(counts)})")
    allocs, frees = counts[proof]
    assert allocs > ALLOC_FLOOR and frees > 0, (
        f"{program} under {mode}-{variant}: hakmem counted allocs={allocs} frees={frees} in {proof!r}; "
        f"all steps: {counts}")
