"""LCOV tracefiles (geninfo, c8/Istanbul, coverage.py `coverage lcov`, llvm-cov) -> `coverage`.

A tracefile is a list of records `SF:<path>` ... `end_of_record`. Lines come
from `DA:<line>,<hits>[,<checksum>]` (a line counted once, covered when
hits > 0) and branches from `BRDA:<line>,<block>,<branch>,<taken>` (`taken`
"-" means the branch's block never ran: not taken). The `LF`/`LH`/`BRF`/`BRH`
summaries are ignored: they are written by the tool and trusted by nobody.
The same file may appear in several records (one per `TN:` test name); its
records merge like Cobertura's classes. LCOV records no time and no commit.
"""

from __future__ import annotations

import io
import re

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed
from pipelines.defs.ingest.adapters.cobertura import FileCoverage

NAME = "lcov"
SOURCE = "coverage"
KIND = "text"

_RECORD_START = re.compile(r"(TN|SF):")


def matches(doc: str) -> bool:
    """The first line that is neither blank nor a comment starts a record."""
    for line in io.StringIO(doc):
        line = line.strip()
        if line and not line.startswith("#"):
            return bool(_RECORD_START.match(line))
    return False


def _add(current: FileCoverage, tag: str, value: str, line_no: int) -> None:
    parts = value.split(",")
    try:
        if tag == "DA" and len(parts) >= 2:
            current.add_line(int(parts[0]), parts[1])
            return
        if tag == "BRDA" and len(parts) == 4:
            taken = parts[3].strip()
            current.add_branches(tuple(parts[:3]), valid=1, covered=int(taken != "-" and float(taken) > 0))
            return
    except ValueError:
        pass
    current.problems.append(f"line {line_no}: {tag}:{value} is not a valid {tag} record")


def parse(doc: str, ctx: ParseContext) -> Parsed:
    files: dict[str, FileCoverage] = {}
    current: FileCoverage | None = None
    for line_no, raw in enumerate(doc.splitlines(), 1):
        tag, _, value = raw.strip().partition(":")
        if tag == "SF":
            current = files.setdefault(value.strip(), FileCoverage())
        elif tag == "end_of_record":
            current = None
        elif current is not None and tag in ("DA", "BRDA"):
            _add(current, tag, value, line_no)
    notes = ["the last record has no end_of_record (truncated file?)"] if current is not None else []
    report_id = ctx.content_sha256[:16]
    rows = [merged.row(report_id, file, reported_at=None) for file, merged in files.items()]
    return Parsed(tables={"coverage": rows}, notes=notes)
