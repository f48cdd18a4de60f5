"""Manifest state: what the last build loaded, so the next one re-reads only what changed.

`raw.ingested_files` keeps each file's path, SHA-256, size and modification
time, `raw.load_report` its reports, and `raw.ingest_state` the loader version
and policy the raw tables were loaded with. Everything here reads or writes
those bookkeeping tables; deciding what to re-read is the orchestration's
(`loader.py`).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import duckdb

from pipelines.defs.ingest.canonical import ENTITIES
from pipelines.defs.ingest.report import FileReport
from pipelines.defs.ingest.rules import SQL_TYPES

# Bump when the raw tables or what an adapter emits change: the next build re-reads everything.
LOADER_VERSION = "4"

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
"""

# Table names from the fixed entity and bookkeeping lists; the file name is bound.
_FORGET_SQL = tuple("delete from raw." + name + " where source_file = ?"
                    for name in (*ENTITIES, "quarantine", "load_report", "ingested_files"))


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


def discover(exports_dir: Path) -> list[Path]:
    """Every file below the exports folder, in a stable order (hidden files skipped)."""
    if not exports_dir.is_dir():
        raise FileNotFoundError(f"exports folder {exports_dir} does not exist")
    return sorted(
        p for p in exports_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(exports_dir).parts)
    )


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


def touch(con: duckdb.DuckDBPyConnection, source: str, size: int, mtime_ns: int) -> None:
    """Same content under a new size or modification time: keep them, so the next build does not hash it."""
    con.execute("update raw.ingested_files set size_bytes = ?, mtime_ns = ? where source_file = ?",
                [size, mtime_ns, source])


def forget(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Remove every row an earlier build loaded from `source`."""
    for sql in _FORGET_SQL:
        con.execute(sql, [source])


def record(con: duckdb.DuckDBPyConnection, reports: list[FileReport], sha: str, size: int, mtime_ns: int) -> None:
    for report in reports:
        con.execute(
            "insert into raw.load_report values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [report.source_file, report.entity, report.format, sha, report.status, report.rows_read,
             report.rows_loaded, report.rows_quarantined, report.naive_timestamps, report.message],
        )
    con.execute("insert into raw.ingested_files values (?, ?, ?, ?)", [reports[0].source_file, sha, size, mtime_ns])


def recorded_reports(con: duckdb.DuckDBPyConnection) -> list[FileReport]:
    """Every file's reports, this build's and the kept ones, in a stable order."""
    return [FileReport(*row) for row in con.execute(
        "select source_file, entity, format, status, rows_read, rows_loaded, rows_quarantined, "
        "naive_timestamps, message from raw.load_report order by source_file, entity").fetchall()]
