"""Loading: what the readers produced, into `raw.<entity>` and `raw.quarantine`, in bulk.

A canonical CSV streams through DuckDB on its own (one file is already a bulk
load). Parsed files of one format are loaded as a batch: one table of rows per
entity for all the batch's files, checked and inserted by one statement of the
row rules (`rules.py`), which keep each file apart (row numbers, duplicate keys,
counts). Either way every row meets the same rules.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipelines.defs.ingest.canonical import ENTITIES, Entity
from pipelines.defs.ingest.detect import CanonicalCsv
from pipelines.defs.ingest.facts import FACTS
from pipelines.defs.ingest.manifest import insert_rows
from pipelines.defs.ingest.readers import REASON, EntityRows, ParsedFile
from pipelines.defs.ingest.report import FileReport
from pipelines.defs.ingest.rules import Counts, check_and_insert, csv_row_numbers

_PRESENT = "_df_present"  # per row: the comma-separated columns its file has


def load_csv(con: duckdb.DuckDBPyConnection, path: Path, found: CanonicalCsv, tz: str) -> FileReport:
    source = str(path)
    try:
        return _load_csv(con, source, found, tz)
    except duckdb.Error as exc:
        con.execute("drop table if exists _rejects; drop table if exists _scans")
        first_line = str(exc).strip().splitlines()[0]
        return FileReport(source, None, "canonical csv", "rejected", message=f"cannot be read: {first_line}")


def _load_csv(con: duckdb.DuckDBPyConnection, source: str, found: CanonicalCsv, tz: str) -> FileReport:
    entity = found.entity
    con.execute(
        "create or replace temp table _raw_csv as select * from read_csv(?, all_varchar = true, "
        "header = true, encoding = ?, store_rejects = true, rejects_table = '_rejects', rejects_scan = '_scans')",
        [source, found.encoding],
    )
    # DuckDB lower-cases nothing: match the header case-insensitively to the spec.
    actual = {h.lower(): h for h in con.table("_raw_csv").columns}
    present = {c.name for c in entity.columns if c.name in actual}
    number, malformed = csv_row_numbers(con)
    # The header's columns are selected by the relation API, so the user's header text
    # never becomes SQL text; the file name is a value.
    raw_csv = con.table("_raw_csv")
    source_file = duckdb.ConstantExpression(source).alias("source_file")
    con.register("_src", raw_csv.select(
        source_file, number, *(duckdb.ColumnExpression(actual[c]).alias(c) for c in sorted(present))))
    con.register("_src_records", raw_csv.select(
        source_file, number, duckdb.SQLExpression("_raw_csv").alias("_df_record")))
    try:
        counts = check_and_insert(con, entity, present, tz, "canonical", records="_src_records",
                                  raw_record="to_json(r._df_record)")
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
    loaded, quarantined, naive = counts.get(source, (0, 0, 0))
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


def load_batch(con: duckdb.DuckDBPyConnection, files: list[tuple[str, ParsedFile]], tz: str) -> list[FileReport]:
    """Files parsed by one adapter, each entity in one statement; a report per file and entity, as if one by one."""
    fmt, system = files[0][1].format, files[0][1].source_system
    by_entity: dict[str, list[tuple[str, EntityRows]]] = {}
    for source, parsed in files:
        for rows in parsed.tables:
            if rows.count:
                by_entity.setdefault(rows.entity, []).append((source, rows))
    counts: dict[tuple[str, str], tuple[int, int, int]] = {}
    for name, parts in by_entity.items():
        inserted = _insert(con, ENTITIES[name], parts, system, tz)
        counts.update({(source, name): found for source, found in inserted.items()})
    _insert_facts(con, files)
    reports = []
    for source, parsed in files:
        notes = "; ".join(parsed.notes)
        for index, rows in enumerate(parsed.tables):
            loaded, quarantined, naive = counts.get((source, rows.entity), (0, 0, 0))
            reports.append(FileReport(source, rows.entity, fmt, "loaded", rows.count, loaded, quarantined, naive,
                                      notes if index == 0 else ""))
        if not parsed.tables:
            reports.append(FileReport(source, None, fmt, "loaded", message=notes or "no records"))
    return reports


def _insert(con: duckdb.DuckDBPyConnection, entity: Entity, parts: list[tuple[str, EntityRows]], system: str,
            tz: str) -> Counts:
    """One entity's rows of several files through the row rules at once."""
    names = [c for c in entity.column_names if any(c in rows.present for _, rows in parts)]
    if any(REASON in rows.columns for _, rows in parts):
        names.append(REASON)
    frame = pd.DataFrame({
        "source_file": pd.Series([s for source, rows in parts for s in [source] * rows.count], dtype=object),
        "source_row": [n for _, rows in parts for n in range(1, rows.count + 1)],
        _PRESENT: pd.Series([p for _, rows in parts for p in [",".join(rows.present)] * rows.count], dtype=object),
        **{name: pd.Series(_column(parts, name), dtype=object) for name in names},
    })
    con.register("_adapter_rows", frame)
    casts = "".join(f', cast("{n}" as varchar) as "{n}"' for n in names)
    # SQL text: identifiers from the fixed canonical entity list (canonical.py); the rows are a registered frame.
    con.execute(f"create or replace temp table _src as select source_file, source_row, {_PRESENT}{casts} "  # fixed list
                "from _adapter_rows")
    con.unregister("_adapter_rows")
    del frame
    try:
        return check_and_insert(con, entity, set(names) - {REASON}, tz, system, records="_src",
                                raw_record=_raw_record([n for n in names if n != REASON]),
                                extra_reason=REASON in names)
    finally:
        con.execute("drop table _src")


def _insert_facts(con: duckdb.DuckDBPyConnection, files: list[tuple[str, ParsedFile]]) -> None:
    """The batch's facts, one statement per fact table."""
    for table in FACTS.values():
        rows = [(source, *fact) for source, parsed in files for fact in parsed.facts.get(table.name, [])]
        insert_rows(con, "raw." + table.name, ["varchar", *(sql_type for _, sql_type in table.columns)], rows)


def _column(parts: list[tuple[str, EntityRows]], name: str) -> list[str | None]:
    """One column over the batch's files; a file without it contributes empty values."""
    values: list[str | None] = []
    for _, rows in parts:
        values.extend(rows.columns.get(name) or [None] * rows.count)
    return values


def _raw_record(names: list[str]) -> str:
    """SQL for a quarantined row's original record: the columns its own file has, as JSON.

    A file's columns are those holding a value in one of its rows (`EntityRows.present`),
    so two files of a batch may show different keys; a row of a file without any shows
    only its number.
    """
    number = "json_object('source_row', r.source_row)"
    if not names:
        return number
    # SQL text: identifiers from the fixed canonical entity list (canonical.py).
    pairs = ", ".join(f"{{'k': '{n}', 'v': r.\"{n}\"}}" for n in names)
    own = f"list_filter([{pairs}], lambda p: list_contains(string_split(r.{_PRESENT}, ','), p.k))"
    return f"case when r.{_PRESENT} = '' then {number} else to_json(map_from_entries({own})) end"
