"""What keeps a source's SQL to reading: a statement check, and SQLite's authorizer.

``writing_statement`` is the early, conservative check that ``conveyor compile`` runs on the
query text (no engine needed): it names the first statement that writes or changes the engine
(``VACUUM INTO``, ``ATTACH``, ``INSERT``, ``COPY ... TO``, ``SET``, ``INSTALL`` ...). It reads
comments, string literals and quoted names as SQLite and DuckDB do, and looks past ``WITH``
clauses and ``EXPLAIN`` to the statement that runs. A query it cannot judge is left to the
engines, which enforce the same rule on their own: SQLite through ``ReadOnlyAuthorizer`` (it
approves every action SQLite asks about at prepare time, and refuses all but reads of the
declared database), DuckDB through its locked sandbox configuration (see ``sql.py``).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Final

_TOKEN = re.compile(
    r"""
      (?P<skip>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<quoted>'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`[^`]*`?|\[[^\]]*\]?)
    | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_READS: Final = frozenset(
    {"SELECT", "VALUES", "FROM", "TABLE", "PIVOT", "UNPIVOT", "SUMMARIZE", "DESCRIBE", "SHOW"}
)
"""Statements that only compute rows (both dialects; DuckDB's FROM-first and PIVOT forms)."""
_WRITES: Final = frozenset(
    {
        "ABORT", "ALTER", "ANALYZE", "ATTACH", "BEGIN", "CALL", "CHECKPOINT", "COMMENT",
        "COMMIT", "COPY", "CREATE", "DEALLOCATE", "DELETE", "DETACH", "DROP", "END", "EXECUTE",
        "EXPORT", "FORCE", "GRANT", "IMPORT", "INSERT", "INSTALL", "LOAD", "MERGE", "PRAGMA",
        "PREPARE", "REINDEX", "RELEASE", "REPLACE", "RESET", "REVOKE", "ROLLBACK", "SAVEPOINT",
        "SET", "START", "TRUNCATE", "UNINSTALL", "UPDATE", "UPSERT", "USE", "VACUUM",
    }
)  # fmt: skip
"""Statements that write a file or a table, or change the engine, its settings or extensions."""
_MAIN: Final = _READS | {"INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE"}
"""What can follow a ``WITH`` clause: the statement that actually runs."""


def writing_statement(query: str, *, sqlite: bool) -> str | None:
    """The first statement of ``query`` that writes or changes the engine, e.g. ``'VACUUM'``.

    ``sqlite`` selects the dialect: DuckDB may ``CREATE`` temporary tables, views and macros
    in memory (its database file is opened read-only) but not a persistent ``SECRET``, which
    it writes under the home folder; SQLite may create nothing. None when every statement
    reads, or when a statement starts with a word this check does not know (the engine's own
    parser then reports it).
    """
    for statement in _statements(query):
        keyword = _runs(statement)
        if keyword is None or keyword in _READS:
            continue
        if keyword == "CREATE" and not sqlite:
            if "SECRET" in _words_before_body(statement):
                return "CREATE SECRET"
            continue
        if keyword in _WRITES:
            return keyword
    return None


_POSTGRES_READS: Final = frozenset({"SELECT", "VALUES", "TABLE"})
"""What a PostgreSQL source query may be: what ``DECLARE ... CURSOR FOR`` accepts."""


def postgres_problem(query: str) -> tuple[str, str] | None:
    """What makes ``query`` unfit for a PostgreSQL snapshot, as (what, fix); None if fit.

    One statement that reads (``SELECT``, ``VALUES``, ``TABLE``, or ``WITH`` before one of
    them), ending in a top-level ``ORDER BY``: PostgreSQL returns rows in no set order without
    it, and the snapshot would then change while the data does not. The server refuses the
    rest at run time (a read-only transaction, a cursor that holds one statement).
    """
    statements = _statements(query)
    if len(statements) != 1:
        return (
            f"the query holds {len(statements)} statements",
            "write one SELECT: a PostgreSQL source runs a single statement",
        )
    first = next((t for t in statements[0] if t not in "()"), None)
    keyword = "EXPLAIN" if first == "EXPLAIN" else _runs(statements[0])
    if keyword not in _POSTGRES_READS:
        what = f"('{keyword}' statement)" if keyword else "(no statement it can read)"
        return (
            f"the query does not only read {what}",
            "a PostgreSQL source query is one SELECT (or WITH ... SELECT, VALUES, TABLE)",
        )
    depth = 0
    tokens = statements[0]
    for index, word in enumerate(tokens[:-1]):
        depth += {"(": 1, ")": -1}.get(word, 0)
        if depth == 0 and word == "ORDER" and tokens[index + 1] == "BY":
            return None
    return (
        "the query has no ORDER BY: PostgreSQL returns rows in any order without one",
        "end the query with ORDER BY on columns that identify a row (e.g. ORDER BY id), so "
        "that the same rows give the same snapshot",
    )


def _statements(query: str) -> list[list[str]]:
    """The words and punctuation of each statement (comments and literals dropped), upper case."""
    statements: list[list[str]] = [[]]
    for match in _TOKEN.finditer(query):
        if match.lastgroup == "word":
            statements[-1].append(match.group().upper())
        elif match.lastgroup == "other":
            char = match.group()
            if char == ";":
                statements.append([])
            elif char in "()":
                statements[-1].append(char)
    return [tokens for tokens in statements if tokens]


def _runs(tokens: list[str]) -> str | None:
    """The keyword of the statement that runs: past ``(``, ``EXPLAIN`` and ``WITH`` clauses."""
    words = [t for t in tokens if t not in "()"]
    if words[:1] == ["EXPLAIN"]:  # EXPLAIN [ANALYZE | QUERY PLAN] <statement>: ANALYZE runs it
        words = [w for w in words[1:3] if w not in {"ANALYZE", "QUERY", "PLAN"}] + words[3:]
    if not words:
        return None
    if words[0] != "WITH":
        return words[0]
    depth = 0
    for token in tokens[tokens.index("WITH") + 1 :]:
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth == 0 and token in _MAIN:
            return token
    return None


def _words_before_body(tokens: list[str]) -> list[str]:
    """The words before the first parenthesis or ``AS``: ``CREATE PERSISTENT SECRET s``."""
    words = []
    for token in tokens:
        if token in {"(", "AS"}:
            break
        words.append(token)
    return words


_UNSAFE_FUNCTIONS: Final = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile"})
_ACTIONS: Final = {
    getattr(sqlite3, name): name.removeprefix("SQLITE_")
    for name in dir(sqlite3)
    if name.startswith("SQLITE_")
    and not name.startswith(("SQLITE_LIMIT_", "SQLITE_DBCONFIG_"))
    and name not in {"SQLITE_OK", "SQLITE_DENY", "SQLITE_IGNORE"}
    and isinstance(getattr(sqlite3, name), int)
}


class ReadOnlyAuthorizer:
    """A ``sqlite3`` authorizer that lets a statement read the main database and nothing else.

    Allowed: SELECT, reading a column of ``main`` (or of a CTE), recursive CTEs, and
    functions other than ``load_extension`` and its kind. Refused: every write, ATTACH (which
    ``VACUUM INTO`` asks for first), DETACH, PRAGMA, transactions, temp tables. SQLite asks
    while it prepares a statement, so a refused one never runs. ``refused`` keeps what was
    refused, for the error message.
    """

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        database: str | None,
        trigger: str | None,
    ) -> int:
        """SQLite's callback: ``SQLITE_OK`` for a read of ``main``, ``SQLITE_DENY`` otherwise."""
        del trigger
        if action in {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE}:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ and database in {"main", None}:  # None: a CTE's column
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in _UNSAFE_FUNCTIONS:
            return sqlite3.SQLITE_OK
        name = _ACTIONS.get(action, str(action))
        if action == sqlite3.SQLITE_FUNCTION:
            self.refused.append(f"the function {arg2}()")
        else:
            detail = " ".join(f"'{a}'" for a in (arg1, arg2, database) if a)
            self.refused.append(f"{name}{' ' + detail if detail else ''}")
        return sqlite3.SQLITE_DENY
