"""Manifest state: what the last build loaded, so the next one re-reads only what changed.

`raw.ingested_files` keeps each file's path, SHA-256, size and modification
time, `raw.load_report` its reports, and `raw.ingest_state` the loader version
and policy the raw tables were loaded with, and the `crossfile.FACTS` tables
what each file says for the build-wide judgements. Everything here reads or writes
those bookkeeping tables; deciding what to re-read is the orchestration's
(`loader.py`).
"""

from __future__ import annotations

import functools
import hashlib
import stat
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.defs.ingest.canonical import ENTITIES
from pipelines.defs.ingest.facts import FACTS, create_sql
from pipelines.defs.ingest.report import FileReport
from pipelines.defs.ingest.rules import SQL_TYPES
from pipelines.delivery.macros import render

# Bump when the raw tables or what an adapter emits change: the next build re-reads everything.
LOADER_VERSION = "7"  # 7: JUnit suite timestamps of every reporter; JaCoCo, Go cover, Opsgenie, Bugzilla

_BOOKKEEPING = """
create schema if not exists raw;
create or replace table raw.load_report (
    source_file varchar, entity varchar, format varchar, content_sha256 varchar,
    status varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint,
    naive_timestamps bigint, message varchar
);
create or replace table raw.quarantine (
    source_file varchar, row_number bigint, entity varchar, reason varchar, raw_record json
);
create or replace table raw.ingested_files (
    source_file varchar primary key, content_sha256 varchar, size_bytes bigint, mtime_ns bigint
);
create or replace table raw.ingest_state (state_key varchar);
""" + create_sql()

# Table names from the fixed entity and bookkeeping lists; the file names are a bound list.
_FORGET_SQL = tuple("delete from raw." + name + " where source_file in (select unnest(?::varchar[]))"
                    for name in (*ENTITIES, *FACTS, "quarantine", "load_report", "ingested_files"))


def policy_fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    for entity in ENTITIES.values():
        # SQL text: identifiers from the fixed canonical entity list (canonical.py); values are bound.
        cols = ", ".join(f"{c.name} {SQL_TYPES[c.type]}" for c in entity.columns)
        con.execute(
            f"create or replace table raw.{entity.name} ("
            f"{cols}, source_file varchar, source_row bigint, source_system varchar)"
        )


def prepare(con: duckdb.DuckDBPyConnection, policy_sha: str) -> bool:
    """Keep the raw tables when they were loaded by this loader version and policy; else start over.

    Returns whether everything must be re-read.
    """
    state_key = hashlib.sha256(f"{LOADER_VERSION}:{policy_sha}".encode()).hexdigest()
    con.execute("create schema if not exists raw")
    tables = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    if "ingest_state" in tables:
        rows = con.execute("select state_key from raw.ingest_state").fetchall()
        if rows and rows[0][0] == state_key:
            return False
    con.execute(_BOOKKEEPING)
    _create_raw_tables(con)
    con.execute("insert into raw.ingest_state values (?)", [state_key])
    return True


@dataclass
class Discovered:
    """The folder's export files, and what was found there but not read (with the reason)."""

    files: list[Path]
    skipped: list[FileReport]


def _special_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"))
    return next((name for test, name in kinds if test(mode)), "special file")


def _skip_reason(path: Path, root: Path, own: set[Path]) -> str | None:
    """Why the build must not open this entry, or None for an export file to read.

    The folder is shared: a link may point anywhere the build can read, and
    opening a FIFO blocks; so neither is opened, and a path outside the folder
    is never named in the report."""
    target = path.resolve()
    if path.is_symlink() and not target.is_relative_to(root):
        return "link outside the exports folder"
    if target in own:
        return "the build's own file (the warehouse, its lock, log or copy)"
    mode = target.stat().st_mode
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"{_special_kind(mode)}, not opened"


def discover(exports_dir: Path, own: Collection[Path] = ()) -> Discovered:
    """Every export file below the folder, in a stable order (hidden files ignored), and the
    entries not read: links leading out of the folder, special files, the build's `own` files."""
    if not exports_dir.is_dir():
        raise FileNotFoundError(f"exports folder {exports_dir} does not exist")
    root, own_files = exports_dir.resolve(), {p.resolve() for p in own}
    files: list[Path] = []
    skipped: list[FileReport] = []
    for path in sorted(exports_dir.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(exports_dir).parts):
            continue
        try:
            reason = _skip_reason(path, root, own_files)
        except OSError as exc:  # a dangling link, or an entry removed while the folder is read
            reason = f"cannot be read: {exc.strerror or type(exc).__name__}"
        except RuntimeError:  # pathlib's word for a link that leads back to itself
            reason = "cannot be read: a loop of links"
        if reason is not None:
            skipped.append(FileReport(str(path), None, "-", "skipped", message=reason))
        elif not path.is_dir():
            files.append(path)
    return Discovered(files, skipped)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_fingerprint(repo: Path) -> str:
    """What identifies the repository's history: its refs (one cheap `git` call)."""
    # Unchecked: a folder git cannot read fingerprints as empty, and read_git rejects it with the reason.
    result = subprocess.run(["git", "-C", str(repo), "show-ref", "--head"],
                            capture_output=True, text=True, check=False)
    return hashlib.sha256(result.stdout.encode()).hexdigest()


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int, int]]:
    """What the last build read: source file -> (content SHA-256 or git fingerprint, size, mtime_ns)."""
    return {row[0]: row[1:] for row in con.execute(
        "select source_file, content_sha256, size_bytes, mtime_ns from raw.ingested_files").fetchall()}


@dataclass(frozen=True)
class FileState:
    """What identifies a file's content: its hash (or a git fingerprint), size and modification time."""

    source: str
    sha: str
    size: int
    mtime_ns: int


def touch(con: duckdb.DuckDBPyConnection, files: list[FileState]) -> None:
    """Same content under a new size or modification time: keep them, so the next build does not hash it."""
    if files:
        con.execute(
            "update raw.ingested_files as f set size_bytes = t.size_bytes, mtime_ns = t.mtime_ns from ("
            "select unnest(?::varchar[]) as source_file, unnest(?::bigint[]) as size_bytes, "
            "unnest(?::bigint[]) as mtime_ns) as t where f.source_file = t.source_file",
            [[f.source for f in files], [f.size for f in files], [f.mtime_ns for f in files]],
        )


def forget(con: duckdb.DuckDBPyConnection, sources: list[str]) -> None:
    """Remove every row an earlier build loaded from these files (one statement per table), and
    the last build's list of entries it did not open: each build lists them afresh."""
    con.execute("delete from raw.load_report where content_sha256 is null")
    if sources:
        for sql in _FORGET_SQL:
            con.execute(sql, [sources])


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, types: list[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows into a table in one statement, each column bound as a list (executemany runs one per row)."""
    if rows:
        # SQL text: the caller's fixed table name and column types; the values are bound.
        con.execute("insert into " + table + " select " + ", ".join(f"unnest(?::{t}[])" for t in types),
                    [list(column) for column in zip(*rows, strict=True)])


def record(con: duckdb.DuckDBPyConnection, reports: list[FileReport], files: list[FileState]) -> None:
    """The reports and the state of the files read in this build, each table in one statement.
    A report without a file (an entry the folder holds but the build did not open) has no hash."""
    sha = {f.source: f.sha for f in files}
    insert_rows(con, "raw.load_report", [*["varchar"] * 5, *["bigint"] * 4, "varchar"], [
        (r.source_file, r.entity, r.format, sha.get(r.source_file), r.status, r.rows_read, r.rows_loaded,
         r.rows_quarantined, r.naive_timestamps, r.message) for r in reports])
    insert_rows(con, "raw.ingested_files", ["varchar", "varchar", "bigint", "bigint"],
                [(f.source, f.sha, f.size, f.mtime_ns) for f in files])


@functools.cache
def _mask_messages_sql() -> str:
    return ("update raw.load_report set message = " + render("{{ mask_pii('message') }}")
            + " where status = 'rejected'")


def mask_messages(con: duckdb.DuckDBPyConnection) -> None:
    """A rejected file's reason may quote its first line or header: mask the secrets, e-mail
    addresses and IPs in it as the marts mask free text (the macro `mask_pii`; idempotent)."""
    con.execute(_mask_messages_sql())


def recorded_reports(con: duckdb.DuckDBPyConnection) -> list[FileReport]:
    """Every file's reports, this build's and the kept ones, in a stable order."""
    return [FileReport(*row) for row in con.execute(
        "select source_file, entity, format, status, rows_read, rows_loaded, rows_quarantined, "
        "naive_timestamps, message from raw.load_report order by source_file, entity").fetchall()]
