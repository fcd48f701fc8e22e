"""Secrets never leave the configuration: not into logs, error messages, the warehouse, dlt's state or
Dagster's storage. And the app takes no SQL built from values.

The tiny org (tests/conftest.py) refreshes with recognisable tokens; every file its workdir holds is
searched for them (DuckDB databases table by table, dlt's compressed state decoded). A refresh with a wrong
token shows its error without the token. The logs of complete refreshes are searched in test_kills.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import duckdb
from orgs import REPO_ROOT
from workdirs import run_refresh_process, text_rows_containing, tiny_tokens, workdir_on

WRONG_TOKEN = "ghp_wrongTokenForTheSecretsTest_5b8e1d"


def _leaks(root: Path, secrets: list[str]) -> list[str]:
    """Where under `root` (apart from the configuration file) any of `secrets` appears."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "org.yml"):
        data = path.read_bytes()
        hits += [f"{path}: bytes" for secret in secrets if secret.encode() in data]
        if data[8:12] == b"DUCK":  # a DuckDB database: strings may be compressed, read them as rows
            hits += [f"{path}: {t}" for s in secrets for t in text_rows_containing(path, s)]
            hits += [f"{path}: dlt state" for s in secrets if s in _dlt_states(path)]
    return hits


def _dlt_states(database: Path) -> str:
    """dlt's pipeline states stored in `database`, decompressed (they are zlib + base64 there)."""
    from dlt.pipeline.state_sync import decompress_state

    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = con.execute(
            "select table_schema from information_schema.tables where table_name = '_dlt_pipeline_state'"
        ).fetchall()
        states = []
        for (schema,) in tables:
            for (state,) in con.execute(f'select state from "{schema}"._dlt_pipeline_state').fetchall():
                states.append(repr(decompress_state(state)))
        return "\n".join(states)
    finally:
        con.close()


def test_the_search_finds_a_planted_secret(tmp_path):
    """The search can fail: a token written into a table, compressed by DuckDB or not, is found."""
    database = tmp_path / "planted.duckdb"
    con = duckdb.connect(str(database))
    con.execute("create schema marts")
    con.execute(
        "create table marts.t as select 'x' || range as a, ['y', 'a-planted-token'] as b from range(5000)"
    )
    con.execute("checkpoint")
    con.close()
    assert any("marts.t" in hit for hit in _leaks(tmp_path, ["a-planted-token"]))
    (tmp_path / "log.txt").write_text("Authorization: Bearer a-planted-token")
    assert any("log.txt" in hit for hit in _leaks(tmp_path, ["a-planted-token"]))


def test_no_token_anywhere_a_refresh_wrote(tiny_org):
    tokens = tiny_tokens(tiny_org)
    assert len(tokens) == 2 and all(len(token) > 20 for token in tokens), "recognisable tokens"
    assert tiny_org.workdir.warehouse.exists() and list(tiny_org.workdir.dagster_home.rglob("*.db"))
    assert _leaks(tiny_org.workdir.root, tokens) == []


def test_a_rejected_token_is_named_without_being_shown(tiny_org, tmp_path):
    config = workdir_on(tiny_org, tmp_path / "wrong-token", github=WRONG_TOKEN)
    done = run_refresh_process(config)
    output = done.stdout + done.stderr
    # A source that fails goes stale and the others publish (exit 3); its line says what to do.
    assert done.returncode == 3, output[-3000:]
    last = output.strip().splitlines()
    assert any(
        re.search(r"stale: github did not load this time \(.*401.*\).*check sources\.github\.token", line)
        for line in last
    ), output[-3000:]
    assert "Traceback" not in output, "no traceback unless asked"
    secrets = [WRONG_TOKEN, *tiny_tokens(tiny_org)]
    assert [secret for secret in secrets if secret in output] == []
    assert _leaks(config.parent, secrets) == [], "nor in the run's Dagster storage, build or dlt state"


# ---------------------------------------------------------------------------------------------- the app
SQL_WORDS = re.compile(
    r"\bselect\b[\s\S]*\bfrom\b|\binsert\s+into\b|\bdelete\s+from\b|\bupdate\s+[\w.]+\s+set\b"
    r"|\bwhere\s+[\w.]+\s*(=|<|>|\blike\b|\bin\b)",
    re.IGNORECASE,
)
QUERY_CALLS = {"execute", "executemany", "sql", "query", "run_query", "_query", "_cached_query"}


def _text_of(node: ast.AST) -> str:
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def _builds_a_string(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(isinstance(side, ast.Constant | ast.JoinedStr) for side in (node.left, node.right))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
    )


ATTACH = re.compile(r"\battach\b", re.IGNORECASE)


def _in_memory(call: ast.Call) -> bool:
    return bool(call.args) and isinstance(call.args[0], ast.Constant) and call.args[0].value == ":memory:"


def sql_formatting(source: str) -> list[str]:
    """SQL built from values in `source`: formatted strings that read as SQL, query calls given anything
    but a literal or a variable, read-write DuckDB connections. A connection is read-only when opened so,
    or when it is an in-memory database (no file of its own) whose every ATTACH in `source` is READ_ONLY."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if _builds_a_string(node) and SQL_WORDS.search(_text_of(node)):
            problems.append(f"line {node.lineno}: SQL built by formatting")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and ATTACH.search(node.value)
            and "read_only" not in node.value.lower()
        ):
            problems.append(f"line {node.lineno}: a database attached without READ_ONLY")
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in QUERY_CALLS:
            for arg in node.args:
                if _builds_a_string(arg):
                    problems.append(f"line {node.lineno}: {name}() given a formatted string")
        if (
            name == "connect"
            and not _in_memory(node)
            and not any(
                k.arg == "read_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
        ):
            problems.append(f"line {node.lineno}: a connection that is not read-only")
    return problems


def test_the_sql_check_catches_formatted_queries():
    assert sql_formatting("con.execute(f\"select * from marts.t where team = '{team}'\")")
    assert sql_formatting('sql = "select * from t where id = %s" % value\n_query(path, sql)')
    assert sql_formatting('_query(path, "select * from t where a = " + value)')
    assert sql_formatting('sql = "select {} from t".format(column)')
    assert sql_formatting("duckdb.connect(str(path))")
    assert sql_formatting('_query(path, "select * from t where a = ?", value)') == []
    assert sql_formatting("duckdb.connect(str(path), read_only=True)") == []
    assert sql_formatting('con.execute("attach ? as warehouse", [str(path)])')
    assert sql_formatting('con.execute("ATTACH ? AS w (READ_ONLY)", [p])\nduckdb.connect(":memory:")') == []


def test_the_app_takes_parameterised_sql_only_on_read_only_connections():
    files = sorted((REPO_ROOT / "app").rglob("*.py"))
    assert any(path.name == "queries.py" for path in files)
    problems = {str(path.relative_to(REPO_ROOT)): sql_formatting(path.read_text()) for path in files}
    assert {path: found for path, found in problems.items() if found} == {}
