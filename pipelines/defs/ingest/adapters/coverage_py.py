"""coverage.py JSON reports (`coverage json`) -> `coverage`.

Per file: `lines_valid` = executed + missing lines (excluded lines are not
measured, so they do not count), `lines_covered` = executed lines. Branches
(`executed_branches` / `missing_branches`, arcs as [from, to] pairs) only
exist when the run measured them (`--branch`); otherwise they stay empty
rather than 0. The `summary` blocks are ignored, like every format's totals
(coverage.py's `percent_covered` even mixes lines and branches).
`meta.timestamp` is local time without an offset and is emitted as given.
"""

from __future__ import annotations

from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.cobertura import coverage_row

NAME = "coverage.py json"
SOURCE = "coverage"
KIND = "json"


def matches(doc: Any) -> bool:
    meta = doc.get("meta") if isinstance(doc, dict) else None
    return isinstance(meta, dict) and {"format", "version"} <= meta.keys() and isinstance(doc.get("files"), dict)


def _row(report_id: str, file: str, entry: Any, reported_at: str | None) -> Row:
    if not isinstance(entry, dict) or not all(
        isinstance(entry.get(key), list) for key in ("executed_lines", "missing_lines")
    ):
        return coverage_row(report_id, file, 0, 0, None, None, reported_at,
                            reason="no executed_lines/missing_lines lists for this file")
    executed, missing = set(entry["executed_lines"]), set(entry["missing_lines"])
    measured = isinstance(entry.get("executed_branches"), list) and isinstance(entry.get("missing_branches"), list)
    taken = len(entry["executed_branches"]) if measured else None
    return coverage_row(
        report_id, file,
        lines_valid=len(executed | missing),
        lines_covered=len(executed),
        branches_valid=taken + len(entry["missing_branches"]) if measured else None,
        branches_covered=taken,
        reported_at=reported_at,
    )


def parse(doc: dict[str, Any], ctx: ParseContext) -> Parsed:
    reported_at = str(doc["meta"].get("timestamp") or "").strip() or None
    report_id = ctx.content_sha256[:16]
    rows = [_row(report_id, file, entry, reported_at) for file, entry in doc["files"].items()]
    return Parsed(tables={"coverage": rows}, notes=[])
