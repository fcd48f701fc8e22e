"""The one regular-expression engine of the configuration: DuckDB's (RE2).

Every pattern a user writes in org.yml (environment `match`, deploy-rule patterns, `branch`) is evaluated
by DuckDB's `regexp_matches(text, pattern, 'i')` inside the dbt models. Python's `re` accepts patterns RE2
rejects (lookarounds, backreferences, possessive quantifiers) and the reverse (`\\p{L}`), and reads some
shared syntax differently (`\\d` and `\\w` are Unicode-wide in `re`, ASCII in RE2). So the configuration
is checked, and the few patterns Python code applies itself are matched, by DuckDB too: a pattern that
loads is a pattern that runs, and means the same wherever it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

_DUCKDB_ERROR_PREFIX = "Invalid Input Error: "


class RegexEngine:
    """One in-memory DuckDB connection to check and apply many patterns (opened on first use)."""

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = duckdb.connect()
        return self._con

    def error(self, pattern: str) -> str | None:
        """DuckDB's own message when it cannot compile `pattern` (case-insensitive, as models use it);
        None when it can."""
        try:
            self._connection().execute("select regexp_matches('', ?, 'i')", [pattern]).fetchall()
        except duckdb.Error as exc:
            message = str(exc).strip()
            return message.removeprefix(_DUCKDB_ERROR_PREFIX)
        return None

    def search(self, pattern: str, texts: Iterable[str]) -> list[bool]:
        """Whether `pattern` is found in each text (case-insensitive, like the models), in order.

        Raises ValueError with DuckDB's message when the pattern does not compile."""
        texts = list(texts)
        if not texts:
            problem = self.error(pattern)
            if problem:
                raise ValueError(f"not a regular expression DuckDB accepts: {pattern!r}: {problem}")
            return []
        try:
            rows = (
                self._connection()
                .execute(
                    "select regexp_matches(text, ?, 'i') from unnest(?::varchar[]) with ordinality "
                    "as t(text, position) order by position",
                    [pattern, texts],
                )
                .fetchall()
            )
        except duckdb.Error as exc:
            message = str(exc).strip().removeprefix(_DUCKDB_ERROR_PREFIX)
            raise ValueError(f"not a regular expression DuckDB accepts: {pattern!r}: {message}") from None
        return [bool(matched) for (matched,) in rows]

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def regex_error(pattern: str) -> str | None:
    """DuckDB's message for a pattern it cannot compile, else None (one throwaway connection)."""
    engine = RegexEngine()
    try:
        return engine.error(pattern)
    finally:
        engine.close()


def regex_search(pattern: str, texts: Iterable[str]) -> list[bool]:
    """Whether `pattern` (case-insensitive) is found in each text, as DuckDB's regexp_matches finds it."""
    engine = RegexEngine()
    try:
        return engine.search(pattern, texts)
    finally:
        engine.close()


def _escape(text: str) -> str:
    """`text` as a literal in RE2: only its metacharacters escaped (RE2 refuses some of the escapes
    Python's re.escape writes)."""
    return "".join("\\" + ch if ch in ".^$|()[]{}+*?\\" else ch for ch in text)


def path_pattern_regex(pattern: str) -> str:
    """The anchored regular expression (RE2) of a service path pattern, matched against a file's path from
    the repository root. `*` and `?` stay within one folder, `**` crosses folders; a pattern without them
    is a folder or file prefix: `services/payments` owns `services/payments` and everything under it."""
    pattern = pattern.strip().lstrip("/")
    if not any(ch in pattern for ch in "*?["):
        return "^" + _escape(pattern.rstrip("/")) + "(/.*)?$"
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(.*/)?")  # `a/**/b`: zero or more folders between
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(_escape(pattern[i]))
            i += 1
    return "^" + "".join(out) + "$"
