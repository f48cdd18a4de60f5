"""JaCoCo XML coverage (`jacoco:report`, Gradle `jacocoTestReport`) -> `coverage`.

A `<report>` holds `<package name="org/acme/app">`s (sometimes inside
`<group>`s, one per module), each with `<class>`es and `<sourcefile>`s. One
row per `<sourcefile>`: `file` is the package path and the file name
("org/acme/app/Cart.java", the path under the source root, as Cobertura's
`filename`). Lines and branches come from the sourcefile's own
`<counter type="LINE|BRANCH" missed= covered=>`: JaCoCo writes them from the
same probes as its `<line>` elements (a line is covered when any instruction
on it ran), so they agree, unlike Cobertura's rates. A file without branches
has no BRANCH counter: 0 branches. `reported_at` is the last `<sessioninfo>`
`dump` (epoch milliseconds, UTC): when the coverage was collected.
"""

from __future__ import annotations

from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.cobertura import coverage_row, epoch_to_iso

NAME = "jacoco xml"
SOURCE = "coverage"
KIND = "xml"


def matches(doc: Any) -> bool:
    # `report` alone is too common a root name: JaCoCo's always has sessioninfo or package children.
    return getattr(doc, "tag", None) == "report" and (
        doc.find("sessioninfo") is not None or doc.find(".//package") is not None)


def _counters(sourcefile: Any) -> dict[str, tuple[int, int]]:
    """The sourcefile's own counters: type -> (missed + covered, covered)."""
    found = {}
    for counter in sourcefile.findall("counter"):
        missed, covered = int(counter.get("missed", "0")), int(counter.get("covered", "0"))
        found[counter.get("type", "")] = (missed + covered, covered)
    return found


def _row(report_id: str, package: str, sourcefile: Any, reported_at: str | None) -> Row:
    name = (sourcefile.get("name") or "").strip()
    file = f"{package}/{name}" if package and name else name or None
    try:
        counters = _counters(sourcefile)
    except ValueError:
        return coverage_row(report_id, file, 0, 0, None, None, reported_at,
                            reason="a counter's missed/covered is not a whole number")
    if "LINE" not in counters:
        return coverage_row(report_id, file, 0, 0, None, None, reported_at,
                            reason="no LINE counter for this source file")
    lines, branches = counters["LINE"], counters.get("BRANCH", (0, 0))
    return coverage_row(report_id, file, lines[0], lines[1], branches[0], branches[1], reported_at)


def parse(doc: Any, ctx: ParseContext) -> Parsed:
    report_id = ctx.content_sha256[:16]
    dumps = [s.get("dump") for s in doc.iter("sessioninfo") if (s.get("dump") or "").isdigit()]
    reported_at = epoch_to_iso(max(dumps, key=int)) if dumps else None
    rows = [_row(report_id, (package.get("name") or "").strip(), sourcefile, reported_at)
            for package in doc.iter("package") for sourcefile in package.findall("sourcefile")]
    return Parsed(tables={"coverage": rows})
