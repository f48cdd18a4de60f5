"""Go cover profiles (`go test -coverprofile`) -> `coverage`.

The first line is `mode: set|count|atomic`; each other line is a block,
`<import path>/<file>.go:<start line>.<col>,<end line>.<col> <statements> <count>`.
Go measures statements per block, the warehouse lines per file, so a block
stands for every line from its start to its end, and a line is covered when
any block over it ran (count > 0). That is how gcov2lcov and Codecov turn a
profile into lines; blocks repeat when packages are tested together
(`-coverpkg`) and merge the same way. `file` is the path as Go writes it
(import path and file name). A profile records no branches, no time and no commit.
"""

from __future__ import annotations

import re

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed
from pipelines.defs.ingest.adapters.cobertura import FileCoverage

NAME = "go cover profile"
SOURCE = "coverage"
KIND = "text"

_MODE = re.compile(r"mode:\s*(set|count|atomic)\s*$")
# A block is a few lines of one function; a longer span is a damaged line, not a
# reason to enumerate millions of line numbers.
_MAX_BLOCK_LINES = 10_000
_BLOCK = re.compile(r"(?P<file>.+):(?P<start>\d+)\.\d+,(?P<end>\d+)\.\d+ (?P<stmts>\d+) (?P<count>\d+)")


def matches(doc: str) -> bool:
    first = next((line for line in doc.splitlines() if line.strip()), "")
    return bool(_MODE.match(first.strip()))


def parse(doc: str, ctx: ParseContext) -> Parsed:
    files: dict[str, FileCoverage] = {}
    unread = []
    for line_no, raw in enumerate(doc.splitlines(), 1):
        line = raw.strip()
        if not line or _MODE.match(line):
            continue
        block = _BLOCK.fullmatch(line)
        start, end = (int(block["start"]), int(block["end"])) if block else (0, -1)
        if block is None or not 0 <= end - start <= _MAX_BLOCK_LINES:
            unread.append(line_no)
            continue
        merged = files.setdefault(block["file"], FileCoverage())
        for number in range(start, end + 1):
            merged.add_line(number, block["count"])
    notes = [f"{len(unread)} lines are not coverage blocks and were skipped (first: line {unread[0]})"
             ] if unread else []
    report_id = ctx.content_sha256[:16]
    rows = [merged.row(report_id, file, reported_at=None) for file, merged in files.items()]
    for row in rows:
        row["branches_valid"] = row["branches_covered"] = None  # not measured, unlike 0 branches
    return Parsed(tables={"coverage": rows}, notes=notes)
