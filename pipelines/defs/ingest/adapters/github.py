"""GitHub issues: the REST `GET /repos/{owner}/{repo}/issues` array -> defects.

That endpoint returns pull requests too (objects with a `pull_request` key);
they are not defects and are skipped with a note. GitHub has no fields for
severity, environment or component: teams keep them in labels, which the
policy maps by prefix (`severity: high` -> severity `high`).

`defect_id` is `owner/repo#number`, GitHub's own cross-repository reference:
issue numbers are per repository, so the number alone collides across repos.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import join_list, pick, readable

NAME = "github issues json"
SOURCE = "github"
KIND = "json"

# GitHub's default labels that say what kind of issue it is, used when no
# `type:`-style label does.
_TYPE_LABELS = {"bug": "Bug", "enhancement": "Enhancement", "documentation": "Documentation",
                "question": "Question"}
# GitHub's default labels that say why an issue was closed; more specific than
# `state_reason`, which is `completed` for every plain "Close issue".
_RESOLUTION_LABELS = ("duplicate", "wontfix", "invalid")
# Canonical columns the policy's field mapping fills (`sources.github.fields`).
_MAPPED = ("severity", "environment", "component", "team", "service", "found_in_release",
           "fixed_in_release", "assignee", "reporter")


def matches(doc: Any) -> bool:
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(item, dict) for item in doc)
        and {"number", "html_url"} <= doc[0].keys()
        and ("labels" in doc[0] or "state" in doc[0])
    )


def parse(doc: list[dict[str, Any]], ctx: ParseContext) -> Parsed:
    issues = [item for item in doc if "pull_request" not in item]
    notes = []
    if len(issues) < len(doc):
        notes.append(f"{len(doc) - len(issues)} pull requests skipped")
    return Parsed({"defects": [_defect(issue, ctx) for issue in issues]}, notes)


def _defect(issue: Mapping[str, Any], ctx: ParseContext) -> Row:
    owner_repo = _owner_repo(issue)
    # The issues endpoint names the repository only by URL; `repository`
    # gives the mapping a readable object (its name) unless the record has one.
    derived = {"name": owner_repo.rpartition("/")[2], "full_name": owner_repo}
    record = {**issue, "repository": issue.get("repository") or derived}
    labels = [text for text in (readable(label) for label in issue.get("labels") or []) if text]
    fields = ctx.mapping.fields
    row: Row = {column: pick(record, fields.get(column, []), labels) for column in _MAPPED}
    state = readable(issue.get("state"))
    row.update(
        defect_id=f"{owner_repo}#{issue.get('number')}",
        title=readable(issue.get("title")),
        description=readable(issue.get("body")),
        status=state,
        resolution=_resolution(state, issue.get("state_reason"), labels),
        type=pick(record, fields.get("type", []), labels) or _type_from_labels(labels),
        created_at=readable(issue.get("created_at")),
        resolved_at=readable(issue.get("closed_at")),
        labels=join_list(labels),
        url=readable(issue.get("html_url")),
        source_updated_at=readable(issue.get("updated_at")),
    )
    return row


def _owner_repo(issue: Mapping[str, Any]) -> str:
    """`owner/repo` from `repository_url` (…/repos/owner/repo), else from `html_url` (…/owner/repo/issues/N)."""
    api = urlparse(str(issue.get("repository_url") or "")).path
    if "/repos/" in api:
        return api.split("/repos/", 1)[1].strip("/")
    parts = urlparse(str(issue.get("html_url") or "")).path.strip("/").split("/")
    return "/".join(parts[-4:-2])


def _resolution(state: str | None, state_reason: Any, labels: list[str]) -> str | None:
    """Why a closed issue was closed: a resolution label, else GitHub's `state_reason` (raw)."""
    if state != "closed":
        return None
    lowered = {label.lower() for label in labels}
    for label in _RESOLUTION_LABELS:
        if label in lowered:
            return label
    return readable(state_reason)


def _type_from_labels(labels: list[str]) -> str | None:
    for label in labels:
        if label.lower() in _TYPE_LABELS:
            return _TYPE_LABELS[label.lower()]
    return None
