"""JUnit XML test results (pytest, Maven Surefire, TestNG, Gradle, Jest) -> `test_cases`.

Every tool writes the same skeleton -- an optional `<testsuites>` wrapper,
`<testsuite>`s (sometimes nested), `<testcase>`s -- but the summary attributes
(`tests=`, `failures=`) are often wrong: pytest counts subtests and reruns,
nested suites count their children twice. So one row is emitted per
`<testcase>` element, wherever it sits, and every count comes from those rows.

Mapping:
- `suite`: the names of the enclosing `<testsuite>`s, outermost first, joined
  with " / " (a nested suite's own name is rarely unique: "unit / api").
- `status`: `<failure>` -> failed, else `<error>` -> error, else `<skipped>`
  -> skipped (pytest's xfail is a skip), else passed. A failure wins over an
  error because pytest adds an `<error>` for a teardown problem to a test that
  already failed; the failure is the test's own verdict. Surefire's
  `<flakyFailure>`/`<flakyError>` (failed, then passed on a rerun) and a lone
  `<rerunFailure>` leave a case passed.
- `properties`: `<properties>` of the enclosing suites, then the case's own,
  inner ones winning; `environment` and `commit_sha` are looked up there by
  the names in the policy (`sources.junit.fields`), case-insensitively.
- `executed_at`: `timestamp` of the nearest suite that has one, as each
  reporter writes it: ISO-8601 with or without an offset (Surefire, Jest,
  pytest, gotestsum, Playwright, .NET's JUnit logger with 7 fraction digits),
  TestNG's "2024-10-08T03:23:16 GMT", Mocha's RFC 1123
  "Sat, 03 Dec 2022 23:10:07 GMT". Without an offset it stays naive (the
  loader applies `policy.default_timezone`). It is optional metadata: a value
  none of these forms reads leaves `executed_at` empty and a note in the load
  report, and the test results are kept (a rerun cannot fix a reporter's format).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import compact_json
from pipelines.defs.ingest.rules import EARLIEST, LATEST

NAME = "junit xml"
SOURCE = "junit"
KIND = "xml"

_SUITES = {"testsuites", "testsuite"}
_OUTCOMES = (("failure", "failed"), ("error", "error"), ("skipped", "skipped"))
# "1,234" from Surefire's grouped number format; "0,5" is a decimal comma.
_GROUPED = re.compile(r"-?[1-9]\d{0,2}(,\d{3})+")
# Go's zero time (0001-01-01, gotestsum's golden files) is "no time", not a 1st-century run.
_PLAUSIBLE_YEARS = range(int(EARLIEST[:4]), int(LATEST[:4]))
_UTC_SUFFIX = re.compile(r"(?P<local>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)\s+(GMT|UTC)", re.IGNORECASE)


@dataclass(frozen=True)
class _Scope:
    """What a test case inherits from the suites around it."""

    names: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)
    timestamp: str | None = None


def _local(tag: Any) -> str:
    """The tag without its XML namespace (comments and processing instructions have no str tag)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag  # most tags have no namespace: no split


def _child(element: Any, name: str) -> Any:
    return next((c for c in element if _local(c.tag) == name), None)


def matches(doc: Any) -> bool:
    return _local(getattr(doc, "tag", None)) in _SUITES


def _properties(element: Any) -> dict[str, str]:
    """The `<property name= value=>` pairs of an element's own `<properties>` (value may be the text)."""
    block = _child(element, "properties")
    if block is None:
        return {}
    found = {}
    for prop in block:
        name = prop.get("name") if _local(prop.tag) == "property" else None
        if name:
            value = prop.get("value")
            found[name] = value if value is not None else (prop.text or "").strip()
    return found


def _enter(suite: Any, scope: _Scope) -> _Scope:
    name = (suite.get("name") or "").strip() if _local(suite.tag) == "testsuite" else ""
    return _Scope(
        names=(*scope.names, name) if name else scope.names,
        properties={**scope.properties, **_properties(suite)},
        timestamp=(suite.get("timestamp") or "").strip() or scope.timestamp,
    )


def _cases(root: Any) -> list[tuple[Any, _Scope]]:
    """Every `<testcase>` in document order with its scope (iterative: nesting depth is untrusted)."""
    found = []
    stack = [(root, _enter(root, _Scope()))]
    while stack:
        element, scope = stack.pop()
        for child in reversed(list(element)):
            tag = _local(child.tag)
            if tag == "testcase":
                stack.append((child, scope))
            elif tag in _SUITES:
                stack.append((child, _enter(child, scope)))
        if _local(element.tag) == "testcase":
            found.append((element, scope))
    return found


def _seconds(text: str | None) -> str | None:
    """A `time` attribute as a plain decimal: "1,234.5" -> "1234.5", "0,25" -> "0.25"."""
    text = (text or "").strip()
    if "," in text and "." in text:
        grouping = "," if text.rfind(",") < text.rfind(".") else "."
        text = text.replace(grouping, "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", "") if _GROUPED.fullmatch(text) else text.replace(",", ".")
    return text or None


def _timestamp(text: str) -> str | None:
    """A suite timestamp as ISO-8601 (naive stays naive), or None when no reporter's form reads it.

    Read here, once per suite, because the forms are JUnit's own (RFC 1123 is
    no ISO-8601); the loader's row checks then see only ISO-8601 text.
    """
    found = _UTC_SUFFIX.fullmatch(text)
    if found:
        text = found["local"] + "+00:00"
    try:
        read = datetime.fromisoformat(text)
    except ValueError:
        try:
            read = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return read.isoformat() if read.year in _PLAUSIBLE_YEARS else None


def _first_line(text: str) -> str | None:
    return next((line.strip() for line in text.splitlines() if line.strip()), None)


def _lookup(properties: dict[str, str], names: list[str]) -> str | None:
    """The first listed property present (names compared case-insensitively; dots are part of a name)."""
    lowered = {k.lower(): v for k, v in properties.items()}
    for name in names:
        value = (lowered.get(name.lower()) or "").strip()
        if value:
            return value
    return None


def _property_columns(properties: dict[str, str], fields: dict[str, list[str]]) -> Row:
    return {
        "properties": compact_json(properties) if properties else None,
        "environment": _lookup(properties, fields.get("environment", [])),
        "commit_sha": _lookup(properties, fields.get("commit_sha", [])),
    }


def _inherited(scope: _Scope, fields: dict[str, list[str]]) -> Row:
    """The columns a case takes from its suites: once per suite, not per case (hundreds per file)."""
    return {"suite": " / ".join(scope.names) or None,
            "executed_at": _timestamp(scope.timestamp) if scope.timestamp else None,
            **_property_columns(scope.properties, fields)}


def _unread_timestamps(rows: list[Row], scopes: list[_Scope]) -> list[str]:
    """Notes for the suite timestamps that were there but unreadable, with how many cases they left undated."""
    unread: dict[str, int] = {}
    for row, scope in zip(rows, scopes):
        if scope.timestamp and row["executed_at"] is None:
            unread[scope.timestamp] = unread.get(scope.timestamp, 0) + 1
    return [f"suite timestamp {text!r} is not a date and time of 1990-2100 in a form JUnit reporters write: "
            f"{count} test cases kept without executed_at" for text, count in unread.items()]


def _outcome(case: Any) -> tuple[str, Any]:
    """The case's status and the element that tells it (None for a pass)."""
    if len(case):
        for tag, outcome in _OUTCOMES:
            detail = _child(case, tag)
            if detail is not None:
                return outcome, detail
    return "passed", None


def _row(case: Any, scope: _Scope, inherited: Row, index: int, run_id: str, fields: dict[str, list[str]]) -> Row:
    status, detail = _outcome(case)
    message = stack_trace = None
    if detail is not None:
        text = "".join(detail.itertext()).strip()
        message = (detail.get("message") or "").strip() or _first_line(text)
        if status in ("failed", "error"):
            stack_trace = text or None
    own = _properties(case) if len(case) else {}  # most cases have no child element at all
    properties = _property_columns({**scope.properties, **own}, fields) if own else inherited
    return {
        "run_id": run_id,
        "case_index": str(index),
        "suite": inherited["suite"],
        "classname": (case.get("classname") or case.get("class") or "").strip() or None,
        "name": (case.get("name") or "").strip() or None,
        "status": status,
        "duration_s": _seconds(case.get("time")),
        "message": message,
        "stack_trace": stack_trace,
        "properties": properties["properties"],
        "environment": properties["environment"],
        "commit_sha": properties["commit_sha"],
        "executed_at": inherited["executed_at"],
    }


def _claimed(root: Any) -> int | None:
    """The test count the file states: the root's `tests`, else the sum over its outermost suites."""
    suites = [root] if root.get("tests") is not None else [s for s in root if _local(s.tag) == "testsuite"]
    try:
        return sum(int(s.get("tests")) for s in suites) if suites else None
    except (TypeError, ValueError):
        return None


def parse(doc: Any, ctx: ParseContext) -> Parsed:
    run_id = ctx.content_sha256[:16]
    fields = ctx.mapping.fields
    inherited: dict[int, Row] = {}  # by scope: the cases of a suite share one scope object
    rows = []
    scopes = []
    for index, (case, scope) in enumerate(_cases(doc), 1):
        if id(scope) not in inherited:
            inherited[id(scope)] = _inherited(scope, fields)
        rows.append(_row(case, scope, inherited[id(scope)], index, run_id, fields))
        scopes.append(scope)
    notes = _unread_timestamps(rows, scopes)
    claimed = _claimed(doc)
    if claimed is not None and claimed != len(rows):
        notes.append(f"the file's summary says {claimed} tests; {len(rows)} test cases listed (counted from the cases)")
    return Parsed(tables={"test_cases": rows}, notes=notes)
