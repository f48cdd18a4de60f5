"""Cobertura XML coverage (Cobertura, coverage.py `coverage xml`, Istanbul, JaCoCo converters) -> `coverage`.

One row per source file. Counts come from the `<line>` elements, never from
the `line-rate`/`lines-valid` attributes, which some writers get wrong. A file
can be listed by several classes (Java inner classes, one per `<class>`), and
each class lists its lines twice (under `<methods>` and under `<lines>`), so
lines are merged per file by number: counted once, covered when any listing
has hits. A branch line `condition-coverage="50% (1/2)"` adds 2 branches, 1
covered. `file` is the `filename` attribute as written (relative to the
report's `<sources>`). `reported_at` is the root `timestamp` (epoch
milliseconds in every writer seen; seconds accepted) as UTC.

`FileCoverage` and `coverage_row` are shared with the LCOV and coverage.py
adapters, so all coverage formats merge and count the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row

NAME = "cobertura xml"
SOURCE = "coverage"
KIND = "xml"

_CONDITIONS = re.compile(r"\((\d+)\s*/\s*(\d+)\)")
_MILLISECONDS_FROM = 1e11  # as seconds that is the year 5138; as milliseconds, 1973


@dataclass
class FileCoverage:
    """Lines and branches of one source file, merged over every listing of the file."""

    hits: dict[Any, int] = field(default_factory=dict)  # line -> most hits seen
    branches: dict[Any, tuple[int, int]] = field(default_factory=dict)  # key -> (valid, covered)
    problems: list[str] = field(default_factory=list)

    def add_line(self, line: Any, hits: str | None) -> None:
        try:
            count = int(float(hits or 0))
        except ValueError:
            self.problems.append(f"line {line}: hits {hits!r} is not a number")
            return
        self.hits[line] = max(self.hits.get(line, 0), count)

    def add_branches(self, key: Any, valid: int, covered: int) -> None:
        seen = self.branches.get(key, (0, 0))
        self.branches[key] = (max(seen[0], valid), max(seen[1], covered))

    def row(self, report_id: str, file: str | None, reported_at: str | None) -> Row:
        return coverage_row(
            report_id, file,
            lines_valid=len(self.hits),
            lines_covered=sum(1 for hits in self.hits.values() if hits > 0),
            branches_valid=sum(valid for valid, _ in self.branches.values()),
            branches_covered=sum(covered for _, covered in self.branches.values()),
            reported_at=reported_at,
            reason="; ".join(self.problems) or None,
        )


def coverage_row(
    report_id: str,
    file: str | None,
    lines_valid: int,
    lines_covered: int,
    branches_valid: int | None,
    branches_covered: int | None,
    reported_at: str | None,
    reason: str | None = None,
) -> Row:
    """A `coverage` row; counts as text, branches None when the report did not measure them."""
    row: Row = {
        "report_id": report_id,
        "file": file,
        "lines_valid": str(lines_valid),
        "lines_covered": str(lines_covered),
        "branches_valid": None if branches_valid is None else str(branches_valid),
        "branches_covered": None if branches_covered is None else str(branches_covered),
        "reported_at": reported_at,
        "commit_sha": None,  # none of the coverage formats records the commit
    }
    if reason:
        row["_reason"] = reason
    return row


def epoch_to_iso(text: str | None) -> str | None:
    """An epoch timestamp (milliseconds or seconds) as ISO-8601 UTC; other text as given."""
    text = (text or "").strip()
    try:
        value = float(text)
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
        return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return text or None


def matches(doc: Any) -> bool:
    # Clover XML also has a `coverage` root, but no `packages`.
    return getattr(doc, "tag", None) == "coverage" and doc.find("packages") is not None


def parse(doc: Any, ctx: ParseContext) -> Parsed:
    files: dict[str | None, FileCoverage] = {}
    for cls in doc.iter("class"):
        merged = files.setdefault((cls.get("filename") or "").strip() or None, FileCoverage())
        for line in cls.iter("line"):
            number = line.get("number")
            merged.add_line(number, line.get("hits"))
            conditions = _CONDITIONS.search(line.get("condition-coverage") or "")
            if (line.get("branch") or "").lower() == "true" and conditions:
                merged.add_branches(number, valid=int(conditions[2]), covered=int(conditions[1]))
    report_id = ctx.content_sha256[:16]
    reported_at = epoch_to_iso(doc.get("timestamp"))
    rows = [merged.row(report_id, file, reported_at) for file, merged in files.items()]
    return Parsed(tables={"coverage": rows}, notes=_rate_note(doc, rows))


def _rate_note(doc: Any, rows: list[Row]) -> list[str]:
    """Say so when the report's own line-rate disagrees with its lines (the lines are counted)."""
    valid = sum(int(r["lines_valid"]) for r in rows)
    covered = sum(int(r["lines_covered"]) for r in rows)
    try:
        stated = float(doc.get("line-rate"))
    except (TypeError, ValueError):
        return []
    if valid and abs(stated - covered / valid) > 0.0005:
        return [f"the report's line-rate {stated:g} disagrees with its lines ({covered}/{valid} covered); "
                "counts come from the lines"]
    return []
