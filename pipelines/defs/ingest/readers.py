"""Readers: one export file (or the git history) into rows of the canonical entities.

A canonical CSV streams through DuckDB at any size; any other format is
recognised by `detect.py` and parsed by its adapter into canonical text rows.
Either way the rows go through the same row rules (`rules.py`). A file that
cannot be read is reported as rejected, so the other files still load.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from pipelines.defs.ingest.adapters.base import FormatError, ParseContext, Parsed
from pipelines.defs.ingest.adapters.git import read_git
from pipelines.defs.ingest.canonical import ENTITIES
from pipelines.defs.ingest.detect import (
    AdapterInput,
    CanonicalCsv,
    Rejected,
    detect,
    is_documentation,
    scan,
)
from pipelines.defs.ingest.report import FileReport
from pipelines.defs.ingest.rules import check_and_insert, csv_row_numbers, load_rows
from pipelines.policy import Policy

log = logging.getLogger("defectflow")

# Adapters hold a whole document in memory; a canonical CSV streams at any size.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, found: CanonicalCsv, tz: str) -> FileReport:
    source = str(path)
    entity = found.entity
    con.execute(
        "create or replace temp table _raw_csv as select * from read_csv(?, all_varchar = true, "
        "header = true, encoding = ?, store_rejects = true, rejects_table = '_rejects', rejects_scan = '_scans')",
        [source, found.encoding],
    )
    # DuckDB lower-cases nothing: match the header case-insensitively to the spec.
    actual = {h.lower(): h for h in con.execute("select * from _raw_csv limit 0").fetch_df().columns}
    present = {c.name for c in entity.columns if c.name in actual}
    number, malformed = csv_row_numbers(con)
    # The header's columns are selected by the relation API, so the user's header text
    # never becomes SQL text.
    raw_csv = con.table("_raw_csv")
    con.register("_src", raw_csv.select(
        number, *(duckdb.ColumnExpression(actual[c]).alias(c) for c in sorted(present))))
    con.register("_src_records", raw_csv.select(
        number, duckdb.SQLExpression("to_json(_raw_csv)").alias("raw_record")))
    try:
        loaded, quarantined, naive = check_and_insert(
            con, source, entity, present, tz, "canonical", raw_records="select * from _src_records",
        )
    finally:
        con.unregister("_src")
        con.unregister("_src_records")
    con.execute(
        "insert into raw.quarantine select ?, line - 1, ?, "
        "'malformed CSV row (' || error_type || '): ' || error_message, "
        "to_json(struct_pack(csv_line := csv_line)) from ("
        # one reject row per bad line (DuckDB may log a line once per error found in it)
        "select line, any_value(error_type) as error_type, any_value(error_message) as error_message, "
        "any_value(csv_line) as csv_line from _rejects group by line) order by line",
        [source, entity.name],
    )
    con.execute("drop table if exists _rejects; drop table if exists _scans; "
                "drop table if exists _raw_csv; drop table if exists _malformed")
    missing = [c.name for c in entity.columns if c.name not in present and c.required]
    extra = [h for h in found.header if h.strip().lower() not in set(entity.column_names)]
    notes = []
    if missing:
        notes.append(f"required columns missing (every row quarantined): {', '.join(missing)}")
    if extra:
        notes.append(f"ignored columns: {', '.join(extra)}")
    return FileReport(
        source_file=source,
        entity=entity.name,
        format="canonical csv",
        status="loaded",
        rows_read=loaded + quarantined + malformed,
        rows_loaded=loaded,
        rows_quarantined=quarantined + malformed,
        naive_timestamps=naive,
        message="; ".join(notes),
    )


def _parse(path: Path, found: AdapterInput, policy: Policy, sha: str) -> Parsed:
    adapter = found.adapter
    ctx = ParseContext(path=path, policy=policy, mapping=policy.source(adapter.SOURCE), content_sha256=sha)
    return adapter.parse(found.doc, ctx)


def load_file(con: duckdb.DuckDBPyConnection, path: Path, policy: Policy, sha: str) -> list[FileReport]:
    source = str(path)
    tz = policy.default_timezone
    if is_documentation(path):
        return [FileReport(source, None, "documentation", "skipped", message="documentation, not an export")]
    fmt = "unknown"
    try:
        encoding = scan(path)
        found = detect(path, encoding, max_document_bytes=MAX_DOCUMENT_BYTES)
        if isinstance(found, CanonicalCsv):
            fmt = "canonical csv"
            return [_load_csv(con, path, found, tz)]
        fmt = found.adapter.NAME
        parsed = _parse(path, found, policy, sha)
    except Rejected as exc:
        return [FileReport(source, None, exc.format, "rejected", message=str(exc))]
    except FormatError as exc:
        return [FileReport(source, None, fmt, "rejected", message=str(exc))]
    except duckdb.Error as exc:
        con.execute("drop table if exists _rejects; drop table if exists _scans")
        first_line = str(exc).strip().splitlines()[0]
        return [FileReport(source, None, fmt, "rejected", message=f"cannot be read: {first_line}")]
    except Exception as exc:  # an adapter meeting input it does not expect must not stop the other files
        log.debug("adapter %s failed on %s", fmt, source, exc_info=True)
        return [FileReport(source, None, fmt, "rejected",
                           message=f"the {fmt} adapter could not read it: {type(exc).__name__}: {exc}")]
    notes = list(parsed.notes)
    reports = [
        load_rows(con, source, ENTITIES[name], rows, fmt, found.adapter.SOURCE, tz, notes if i == 0 else ())
        for i, (name, rows) in enumerate(parsed.tables.items())
    ]
    return reports or [FileReport(source, None, fmt, "loaded", message="; ".join(notes) or "no records")]


def load_git(con: duckdb.DuckDBPyConnection, repo: Path, policy: Policy) -> list[FileReport]:
    source = f"git:{repo}"
    try:
        parsed = read_git(repo)
    except FormatError as exc:
        return [FileReport(source, None, "git log", "rejected", message=str(exc))]
    return [
        load_rows(con, source, ENTITIES[name], rows, "git log", "git", policy.default_timezone, parsed.notes)
        for name, rows in parsed.tables.items()
    ] or [FileReport(source, None, "git log", "loaded", message="no commits")]
