"""Bugzilla REST bugs: `{"bugs": [...]}` (GET /rest/bug, GET /rest/bug/{id}/history) -> defects,
status history and duplicate links.

A bug search page gives one defect per bug; a history page (each bug's `id`
and `history`, no `summary`) gives only status history; a bug that carries
both gives both. `defect_id` is "BZ-<id>", so a history page and a search
page of the same bug agree. A status change is a history change whose
`field_name` is `status` (`bug_status` before Bugzilla 5): `removed` -> `added`
at `when` by `who`. `dupe_of` (set when the bug is resolved DUPLICATE) fills
`duplicate_of` and a "duplicates" link. Bugzilla writes "---" and "--" for
an unset milestone or priority: those read as empty. The other columns come
from the policy's mapping (`sources.bugzilla.fields`), `label:<prefix>` looking
in the bug's `keywords`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import join_list, pick, readable

NAME = "bugzilla bugs json"
SOURCE = "bugzilla"
KIND = "json"

_UNSET = {"---", "--"}
_STATUS_FIELDS = {"status", "bug_status"}
# Canonical columns the policy's field mapping fills.
_MAPPED = ("severity", "service", "component", "team", "environment", "type", "found_in_release",
           "fixed_in_release", "assignee", "reporter", "resolved_at")


def matches(doc: Any) -> bool:
    bugs = doc.get("bugs") if isinstance(doc, dict) else None
    if not isinstance(bugs, list) or not bugs or not isinstance(bugs[0], Mapping):
        return False
    return "id" in bugs[0] and ("creation_time" in bugs[0] or "history" in bugs[0])


def defect_id(bug_id: Any) -> str | None:
    text = readable(bug_id)
    return f"BZ-{text}" if text else None


def parse(doc: dict[str, Any], ctx: ParseContext) -> Parsed:
    bugs = [bug for bug in doc["bugs"] if isinstance(bug, Mapping)]
    defects = [_defect(bug, ctx) for bug in bugs if "creation_time" in bug]
    history = [row for bug in bugs for row in _status_changes(bug)]
    links = [{"defect_id": row["defect_id"], "linked_defect_id": row["duplicate_of"], "link_type": "duplicates"}
             for row in defects if row["duplicate_of"]]
    return Parsed({"defects": defects, "defect_status_history": history, "defect_links": links})


def _set(value: Any) -> str | None:
    text = readable(value)
    return None if text in _UNSET else text


def _defect(bug: Mapping[str, Any], ctx: ParseContext) -> Row:
    keywords = [text for text in (readable(k) for k in bug.get("keywords") or []) if text]
    record = {key: value for key, value in bug.items() if readable(value) not in _UNSET}
    fields = ctx.mapping.fields
    row: Row = {column: pick(record, fields.get(column, []), keywords) for column in _MAPPED}
    row.update(
        defect_id=defect_id(bug.get("id")),
        title=readable(bug.get("summary")),
        status=readable(bug.get("status")),
        resolution=_set(bug.get("resolution")),
        created_at=readable(bug.get("creation_time")),
        labels=join_list(keywords),
        duplicate_of=defect_id(bug.get("dupe_of")),
        source_updated_at=readable(bug.get("last_change_time")),
    )
    return row


def _status_changes(bug: Mapping[str, Any]) -> list[Row]:
    key = defect_id(bug.get("id"))
    return [
        {"defect_id": key, "changed_at": readable(entry.get("when")), "from_status": _set(change.get("removed")),
         "to_status": _set(change.get("added")), "actor": readable(entry.get("who"))}
        for entry in bug.get("history") or [] if isinstance(entry, Mapping)
        for change in entry.get("changes") or []
        if isinstance(change, Mapping) and change.get("field_name") in _STATUS_FIELDS
    ]
