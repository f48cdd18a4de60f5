"""Readers: one export file into canonical rows, in plain Python.

A reader may run in a worker process (`workers.py`), so it touches no
warehouse and returns plain, picklable data: a canonical CSV is only
recognised here (DuckDB streams it at any size, `loading.py`); any other
format is recognised by `detect.py` and parsed by its adapter into canonical
text rows, handed over column by column for a bulk insert. A file that cannot
be read becomes a rejected report, so the other files still load.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.defs.ingest.adapters.base import FormatError, ParseContext, Row
from pipelines.defs.ingest.adapters.git import read_git
from pipelines.defs.ingest.canonical import ENTITIES
from pipelines.defs.ingest.detect import CanonicalCsv, Rejected, detect, is_documentation, scan
from pipelines.defs.ingest.report import FileReport
from pipelines.policy import Policy

log = logging.getLogger("defectflow")

# Adapters hold a whole document in memory; a canonical CSV streams at any size.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
REASON = "_reason"  # an adapter's own reason to quarantine a row (adapters/base.py)
_TEXT_TYPES = {str, type(None)}


@dataclass
class EntityRows:
    """One entity's rows of one file, column by column."""

    entity: str
    count: int
    # The entity's columns that hold a value in some row, in entity order: the
    # columns the file has, which a quarantined row's original record shows.
    present: tuple[str, ...]
    columns: dict[str, list[str | None]]  # the present columns, and `_reason` when a row has one


@dataclass
class ParsedFile:
    """An adapter's reading of one file."""

    format: str  # the adapter's NAME
    source_system: str  # the adapter's SOURCE
    tables: list[EntityRows]  # in the adapter's order; the first carries the notes
    notes: list[str]


# What reading one file gives: nothing to load (rejected or skipped), a CSV for DuckDB, or rows.
Read = FileReport | CanonicalCsv | ParsedFile


@contextlib.contextmanager
def _without_gc() -> Iterator[None]:
    """Parsing builds millions of objects and no reference cycles: the cyclic collector would
    rescan the growing document again and again (a large JSON parses 3x faster without it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def entity_rows(entity: str, rows: list[Row]) -> EntityRows:
    """Rows as columns of text: numbers and booleans as their text, absent values None."""
    if not rows:
        return EntityRows(entity, 0, (), {})
    names = [*ENTITIES[entity].column_names, REASON]
    # Row by row (each dict read once) and transposed by zip: a column at a time visits every
    # row again and, on hundreds of thousands of rows, costs several times as much.
    values = dict(zip(names, zip(*[tuple(map(row.get, names)) for row in rows], strict=True), strict=True))
    present = tuple(name for name in names[:-1] if _has_value(values[name]))
    kept = [*present, *([REASON] if any(values[REASON]) else [])]
    return EntityRows(entity, len(rows), present, {name: _texts(values[name]) for name in kept})


def _has_value(column: tuple[Any, ...]) -> bool:
    """Whether a value is neither None nor empty text (counted in C, not tested one by one)."""
    return column.count(None) + column.count("") < len(column)


def _texts(column: tuple[Any, ...]) -> list[str | None]:
    if set(map(type, column)) <= _TEXT_TYPES:  # the usual case, checked in C
        return list(column)
    return [value if value is None or type(value) is str else str(value) for value in column]


def read_file(path: Path, policy: Policy, sha: str) -> Read:
    """Recognise the file and, unless DuckDB reads it (a canonical CSV), parse it into rows."""
    source = str(path)
    if is_documentation(path):
        return FileReport(source, None, "documentation", "skipped", message="documentation, not an export")
    fmt = "unknown"
    try:
        with _without_gc():
            found = detect(path, scan(path), max_document_bytes=MAX_DOCUMENT_BYTES)
            if isinstance(found, CanonicalCsv):
                return found
            adapter = found.adapter
            fmt = adapter.NAME
            ctx = ParseContext(path=path, policy=policy, mapping=policy.source(adapter.SOURCE), content_sha256=sha)
            parsed = adapter.parse(found.doc, ctx)
            del found  # the document: only the rows are needed from here on
            tables = [entity_rows(name, rows) for name, rows in parsed.tables.items()]
    except Rejected as exc:
        return FileReport(source, None, exc.format, "rejected", message=str(exc))
    except FormatError as exc:
        return FileReport(source, None, fmt, "rejected", message=str(exc))
    except Exception as exc:  # an adapter meeting input it does not expect must not stop the other files
        log.debug("adapter %s failed on %s", fmt, source, exc_info=True)
        return FileReport(source, None, fmt, "rejected",
                          message=f"the {fmt} adapter could not read it: {type(exc).__name__}: {exc}")
    return ParsedFile(fmt, adapter.SOURCE, tables, list(parsed.notes))


def read_git_history(repo: Path) -> Read:
    """The commits of a git repository, read like an export file in the `git log` format."""
    try:
        parsed = read_git(repo)
    except FormatError as exc:
        return FileReport(f"git:{repo}", None, "git log", "rejected", message=str(exc))
    return ParsedFile("git log", "git", [entity_rows(name, rows) for name, rows in parsed.tables.items()],
                      list(parsed.notes))
