"""Jira REST search responses (`/rest/api/2|3/search?expand=changelog,names`).

One issue becomes one defect; the `status` items of its changelog become its
status history; every `issuelinks` entry becomes a defect link. Raw values are
kept (localised status names included): staging maps them with the policy.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import instant, join_list, pick, readable
from pipelines.defs.ingest.canonical import DEFECTS

NAME = "jira json"
SOURCE = "jira"
KIND = "json"

# Columns every Jira instance keeps in the same system field; a policy mapping
# for the column (sources.jira.fields) still wins.
_SYSTEM_FIELDS: dict[str, list[str]] = {
    "title": ["summary"],
    "description": ["description"],
    "status": ["status.name"],
    "status_category": ["status.statusCategory.key"],
    "resolution": ["resolution.name"],
    "type": ["issuetype.name"],
    # Users: the display name first (`readable` would prefer the Server login `name`).
    "assignee": ["assignee.displayName", "assignee.name", "assignee.emailAddress"],
    "reporter": ["reporter.displayName", "reporter.name", "reporter.emailAddress"],
    "created_at": ["created"],
    "resolved_at": ["resolutiondate"],
    "source_updated_at": ["updated"],
}
_TIMESTAMPS = {c.name for c in DEFECTS.columns if c.type == "timestamp"}

_CONTAINERS = (dict, list)
_WHOLE_NUMBER = re.compile(r"^(-?\d+)\.0+$")


def jira_time(text: str | None) -> str | None:
    """Jira's `2020-06-12T08:13:13.360+0800` as ISO-8601 `...+08:00` (same instant, same offset)."""
    if not text:
        return None
    text = text.strip()
    # a compact offset ends the text: sign and four digits (isdecimal is the \d of a regex;
    # string tests, as a regex substitution costs more than the rest of an issue's timestamps)
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdecimal():
        return f"{text[:-2]}:{text[-2:]}"
    return text


def _is_issue(item: Any) -> bool:
    return isinstance(item, Mapping) and "key" in item and isinstance(item.get("fields"), Mapping)


def matches(doc: Any) -> bool:
    if isinstance(doc, Mapping):
        issues = doc.get("issues")
        # An empty result page is still a search response (it has the paging keys).
        return isinstance(issues, list) and (all(map(_is_issue, issues)) if issues else "total" in doc)
    return isinstance(doc, list) and bool(doc) and all(map(_is_issue, doc))


def _adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (API v3 rich-text fields)."""
    if isinstance(node, Mapping):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        inner = "".join(_adf_text(child) for child in node.get("content") or [])
        blocks = {"paragraph", "heading", "codeBlock", "listItem", "blockquote", "rule"}
        return inner + "\n" if node.get("type") in blocks else inner
    if isinstance(node, list):
        return "".join(_adf_text(child) for child in node)
    return ""


def _plain(value: Any) -> Any:
    if type(value) is dict and value.get("type") == "doc" and "content" in value:
        return _adf_text(value).strip()
    return value


def _status_categories(issues: list[Any]) -> dict[str, str]:
    """Status name -> statusCategory key, from every status object in the file.

    Issues, subtasks, parents and linked issues all carry status objects. A
    name seen with different categories takes the one seen most often.
    """
    votes: dict[str, Counter[str]] = {}
    # A walk of millions of nodes: only objects and arrays go on the stack (a parsed JSON
    # document has no other containers), pushed in a plain loop (no generator per node).
    stack: list[Any] = [issue for issue in issues if isinstance(issue, _CONTAINERS)]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if isinstance(node, dict):
            category = node.get("statusCategory")
            if isinstance(category, dict) and node.get("name") and category.get("key"):
                votes.setdefault(str(node["name"]), Counter())[str(category["key"])] += 1
            for key, value in node.items():
                if isinstance(value, _CONTAINERS) and key != "changelog":
                    push(value)
        else:
            for value in node:
                if isinstance(value, _CONTAINERS):
                    push(value)
    return {name: counter.most_common(1)[0][0] for name, counter in votes.items()}


def _browse_url(issue: Mapping[str, Any]) -> str | None:
    """`https://host[/context]/rest/api/2/issue/10063` -> `https://host[/context]/browse/EE-1`."""
    self_url, key = issue.get("self"), issue.get("key")
    if not isinstance(self_url, str) or "/rest/" not in self_url or not key:
        return None
    return f"{self_url.split('/rest/', 1)[0]}/browse/{key}"


def _is_duplicate_type(link_type: Mapping[str, Any]) -> bool:
    return str(link_type.get("name", "")).casefold() == "duplicate" or (
        str(link_type.get("outward", "")).casefold() == "duplicates"
    )


def _links(key: str | None, fields: Mapping[str, Any]) -> tuple[list[Row], str | None]:
    """This issue's links, each phrased from its side, and the key it duplicates.

    `outwardIssue` present: THIS issue is the subject of the outward phrase
    ("EE-2 duplicates EE-1"); `inwardIssue`: of the inward one ("is duplicated by").
    """
    rows: list[Row] = []
    duplicate_of = None
    for link in fields.get("issuelinks") or []:
        link_type = link.get("type") or {}
        if "outwardIssue" in link:
            other, phrase = link["outwardIssue"], link_type.get("outward")
            if duplicate_of is None and _is_duplicate_type(link_type):
                duplicate_of = readable(other.get("key"))
        elif "inwardIssue" in link:
            other, phrase = link["inwardIssue"], link_type.get("inward")
        else:
            continue
        rows.append({
            "defect_id": key,
            "linked_defect_id": readable((other or {}).get("key")),
            "link_type": readable(phrase) or readable(link_type.get("name")),
        })
    return rows, duplicate_of


def _field_paths(ctx: ParseContext, names: Mapping[str, str]) -> dict[str, list[str]]:
    """Where each defect column comes from, display names resolved to field ids (once per file):
    the policy's mapping, else the system field."""
    return {
        column: [path if path.startswith("label:") else names.get(path, path)
                 for path in ctx.mapping.fields.get(column) or _SYSTEM_FIELDS.get(column, [])]
        for column in DEFECTS.column_names
    }


def _defect(issue: Mapping[str, Any], fields: Mapping[str, Any], paths: dict[str, list[str]],
            duplicate_of: str | None) -> Row:
    labels = [str(label) for label in fields.get("labels") or []]
    computed = {
        "defect_id": readable(issue.get("key")),
        "labels": join_list(labels),
        "duplicate_of": duplicate_of,
        "url": _browse_url(issue),
    }
    row: Row = {}
    for column, column_paths in paths.items():
        if column in computed:
            row[column] = computed[column]
            continue
        value = pick(fields, column_paths, labels)
        row[column] = jira_time(value) if column in _TIMESTAMPS else value
    if row["users_affected"]:
        # Jira number fields are JSON floats (12.0); the column is a count.
        row["users_affected"] = _WHOLE_NUMBER.sub(r"\1", row["users_affected"])
    return row


def _history(key: str | None, changelog: Mapping[str, Any], categories: Mapping[str, str]) -> list[Row]:
    """Status transitions in chronological order.

    Jira Cloud lists histories newest first, Server oldest first: sort by time,
    then by history id (ids grow with time) for changes in the same millisecond.
    """
    def order(history: Mapping[str, Any]) -> tuple[bool, float, int]:
        when = instant(jira_time(history.get("created")))
        history_id = str(history.get("id", ""))
        return (when is None, when.timestamp() if when else 0.0, int(history_id) if history_id.isdigit() else 0)

    histories = [h for h in changelog.get("histories") or [] if isinstance(h, Mapping)]
    rows: list[Row] = []
    for history in sorted(histories, key=order):
        author = history.get("author") or {}
        actor = pick(author, ["displayName", "name", "emailAddress"])
        for item in history.get("items") or []:
            if str(item.get("field", "")).casefold() != "status":
                continue
            from_status, to_status = readable(item.get("fromString")), readable(item.get("toString"))
            rows.append({
                "defect_id": key,
                "changed_at": jira_time(history.get("created")),
                "from_status": from_status,
                "to_status": to_status,
                "actor": actor,
                "from_status_category": categories.get(from_status or ""),
                "to_status_category": categories.get(to_status or ""),
            })
    return rows


def _notes(doc: Any, issues: list[Any]) -> list[str]:
    notes: list[str] = []
    if isinstance(doc, Mapping) and isinstance(doc.get("total"), int):
        start = doc.get("startAt") if isinstance(doc.get("startAt"), int) else 0
        if start > 0 or start + len(issues) < doc["total"]:
            notes.append(f"one page of a larger search: issues {start + 1}-{start + len(issues)} of "
                         f"{doc['total']}; export every page")
    if issues and not any("changelog" in issue for issue in issues):
        notes.append("no changelog (search without expand=changelog): no status history")
    truncated = sum(
        1 for issue in issues
        if isinstance(issue.get("changelog"), Mapping)
        and len(issue["changelog"].get("histories") or []) < (issue["changelog"].get("total") or 0)
    )
    if truncated:
        notes.append(f"{truncated} issues with a truncated changelog: their status history is incomplete")
    return notes


def parse(doc: Any, ctx: ParseContext) -> Parsed:
    issues = list(doc["issues"] if isinstance(doc, Mapping) else doc)
    # `names` (expand=names) maps field ids to display names; paths use display names.
    id_to_name = doc.get("names") if isinstance(doc, Mapping) else None
    names: dict[str, str] = {}
    for field_id, display in (id_to_name or {}).items():
        names.setdefault(str(display), str(field_id))
    categories = _status_categories(issues)
    paths = _field_paths(ctx, names)
    defects: list[Row] = []
    history: list[Row] = []
    links: list[Row] = []
    for issue in issues:
        fields = {key: _plain(value) for key, value in issue["fields"].items()}
        key = readable(issue.get("key"))
        issue_links, duplicate_of = _links(key, fields)
        defects.append(_defect(issue, fields, paths, duplicate_of))
        history.extend(_history(key, issue.get("changelog") or {}, categories))
        links.extend(issue_links)
    return Parsed(
        tables={"defects": defects, "defect_status_history": history, "defect_links": links},
        notes=_notes(doc, issues),
    )
