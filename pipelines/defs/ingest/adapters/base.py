"""What every adapter is: detect a format by content, turn a file into canonical rows.

An adapter module exposes:

- `NAME`: the format as the load report shows it (e.g. "jira json").
- `SOURCE`: its key in `policy.sources` (its field mappings and vocabularies)
  and the `source_system` of every row it produces.
- `KIND`: what `matches`/`parse` receive: "json" (the parsed document),
  "xml" (the root element, parsed with defusedxml), "text" (the decoded text).
- `matches(doc) -> bool`: whether the document is this format. Content
  decides, never the file name.
- `parse(doc, ctx: ParseContext) -> Parsed`.

Rows are dicts of canonical column name -> `str | None` (numbers and booleans
as text, timestamps as ISO-8601 text, naive when the source has no offset).
Validation, typing and quarantine happen once, in the loader, the same for
every format. A row may carry `_reason`: the loader quarantines it with that
reason (e.g. a deployment that has not finished).

Some things only the whole build can judge (is every page of a Jira search
there? which category does a status name have?): an adapter states what the
file says about them as `facts`, kept per file like its rows and judged over
every file after loading (`crossfile.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.policy import Policy, SourceMapping

Row = dict[str, Any]


@dataclass(frozen=True)
class ParseContext:
    path: Path
    policy: Policy
    mapping: SourceMapping  # policy.source(SOURCE)
    content_sha256: str


@dataclass
class Parsed:
    tables: dict[str, list[Row]]  # entity name -> rows, in file order
    notes: list[str] = field(default_factory=list)  # shown in the load report, e.g. "15 pull requests skipped"
    facts: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)  # crossfile.FACTS table -> rows


class FormatError(ValueError):
    """The file is this format but cannot be used at all; the message says why."""
