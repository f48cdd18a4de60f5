"""`defectflow audit-package`: what an auditor takes away about one release, and proof it is intact.

The package is read from the warehouse (read-only): the release's defects with their full
status histories (a migrated key's changes merged in, each with its origin), the gate's
decisions and findings with their waivers, the verdicts of earlier builds, and the load
reports of the build; each as CSV and JSON, with `MANIFEST.sha256` in `sha256sum` format
(`sha256sum -c MANIFEST.sha256` checks it too). `--verify` names every file altered,
missing or added since the manifest was written.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import duckdb

from pipelines.defs.ingest.manifest import file_sha256
from pipelines.warehouse import connect

EXIT_OK, EXIT_TAMPERED, EXIT_ERROR = 0, 1, 2
MANIFEST = "MANIFEST.sha256"

# (file stem, query): `$release` and `$service` (NULL: every service) are bound.
_DEFECTS = ("select defect_id from marts.fct_defects where $release in (attributed_release, found_in_release, "
            "fixed_in_release) and coalesce(service = $service, true)")
TABLES: tuple[tuple[str, str], ...] = (
    ("defects", f"select * from marts.fct_defects where defect_id in ({_DEFECTS}) order by defect_id"),
    ("status_history",
     "select defect_id, transition_seq, changed_at, from_status, to_status, origin_defect_id, origin_system, "
     "source_file, is_known_at_as_of from intermediate.int_defect_status_transitions "
     f"where defect_id in ({_DEFECTS}) order by defect_id, transition_seq"),
    ("gate_decisions", "select * from marts.release_gate where release = $release "
                       "and coalesce(service = $service, true) order by service, environment"),
    ("gate_findings", "select * from marts.release_gate_findings where release = $release "
                      "and coalesce(service = $service, true) order by service, environment, rule, severity"),
    ("gate_history", "select * from history.gate_verdicts where release = $release "
                     "and coalesce(service = $service, true) order by all"),
    ("load_report", "select * from raw.load_report order by source_file, entity"),
    ("build", "select * from raw.build_info"),
)


class AuditError(Exception):
    """No package can be written or checked (exit 2); the message says why."""


@dataclass(frozen=True)
class Verification:
    checked: int
    altered: tuple[str, ...]
    missing: tuple[str, ...]
    added: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_TAMPERED if self.altered or self.missing or self.added else EXIT_OK


def _cell(value: Any) -> Any:
    """A value as JSON has it: timestamps in ISO-8601, decimals as numbers."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_cell(v) for v in value]
    return value


def _csv_cell(value: Any) -> Any:
    # lists inside a cell are `;`-separated, as in the canonical CSVs (docs/contract.md)
    return ";".join(str(v) for v in value) if isinstance(value, list) else value


def _write_table(out: Path, stem: str, columns: list[str], rows: list[tuple[Any, ...]]) -> list[Path]:
    records = [[_cell(v) for v in row] for row in rows]
    with (out / f"{stem}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([_csv_cell(v) for v in record] for record in records)
    (out / f"{stem}.json").write_text(
        json.dumps([dict(zip(columns, record, strict=True)) for record in records], indent=2, ensure_ascii=False,
                   default=str)
        + "\n", encoding="utf-8")
    return [out / f"{stem}.csv", out / f"{stem}.json"]


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None) -> tuple[list[str], list]:
    cursor = con.execute(sql, params)
    return [d[0] for d in cursor.description], cursor.fetchall()


def _manifest_lines(folder: Path, files: list[Path]) -> str:
    return "".join(f"{file_sha256(f)}  {f.relative_to(folder).as_posix()}\n" for f in sorted(files))


def write_package(warehouse: Path, release: str, service: str | None, out: Path) -> list[Path]:
    """Write the package into `out` (absent or empty); returns its files, the manifest last."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AuditError(f"--out {out} is not an empty folder: a package holds only its own files")
    if not warehouse.exists():
        raise AuditError(f"warehouse {warehouse} does not exist: run `defectflow build` first")
    params = {"release": release, "service": service}
    try:
        with connect(warehouse, read_only=True) as con:
            results = {stem: _fetch(con, sql, params if "$release" in sql else None) for stem, sql in TABLES}
    except duckdb.Error as exc:
        raise AuditError(f"cannot read warehouse {warehouse} ({exc}): rebuild it with `defectflow build`") from exc
    if not results["defects"][1] and not results["gate_decisions"][1]:
        raise AuditError(f"release {release!r}" + (f" of {service!r}" if service else "")
                         + " has no defects and no gate decision in the warehouse")
    out.mkdir(parents=True, exist_ok=True)
    files = [path for stem, (columns, rows) in results.items() for path in _write_table(out, stem, columns, rows)]
    (out / MANIFEST).write_text(_manifest_lines(out, files), encoding="utf-8")
    return [*files, out / MANIFEST]


def verify(folder: Path) -> Verification:
    """Each file the manifest lists against its hash, and every file it does not list."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise AuditError(f"{folder} has no {MANIFEST}: not an audit package, or its manifest was removed")
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise AuditError(f"{manifest}:{number}: not a sha256sum line: {line!r}")
        listed[name] = digest
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    return Verification(
        checked=len(listed),
        altered=tuple(sorted(n for n in listed.keys() & present if file_sha256(folder / n) != listed[n])),
        missing=tuple(sorted(listed.keys() - present)),
        added=tuple(sorted(present - listed.keys())),
    )


def format_verification(folder: Path, result: Verification) -> str:
    if result.exit_code == EXIT_OK:
        return f"audit package {folder}: intact ({result.checked} files match {MANIFEST})"
    lines = [f"audit package {folder}: NOT intact"]
    for label, names in (("altered", result.altered), ("missing", result.missing), ("added", result.added)):
        lines += [f"  {label}: {name}" for name in names]
    return "\n".join(lines)


def run_write(warehouse: Path, release: str, service: str | None, out: Path,
              stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    try:
        files = write_package(warehouse, release, service, out)
    except AuditError as exc:
        print(f"audit-package error: {exc}", file=stderr or sys.stderr)
        return EXIT_ERROR
    print(f"audit package for release {release}" + (f" of {service}" if service else "")
          + f": {len(files)} files in {out}", file=stdout or sys.stdout)
    return EXIT_OK


def run_verify(folder: Path, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    try:
        result = verify(folder)
    except AuditError as exc:
        print(f"audit-package error: {exc}", file=stderr or sys.stderr)
        return EXIT_ERROR
    print(format_verification(folder, result), file=stdout or sys.stdout)
    return result.exit_code
