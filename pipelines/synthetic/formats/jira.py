"""Canonical defects and status history -> `jira/issues.json` in the Jira REST shape.

The file is what `GET /rest/api/2/search?jql=...&expand=changelog,names`
returns in one page (above `PAGE_SIZE` issues, the pages
`jira/issues-0001.json`, ... with their `startAt` and the search's `total`),
so the Jira adapter (`jira_json`) reads back the same canonical values under
the shipped policy:

- `key` is the defect_id; the project is the key's prefix (`SRCH-253` -> `SRCH`).
  `self` is `<tracker>/rest/api/2/issue/<id>` where `<tracker>` comes from the
  url `<tracker>/browse/<key>` (else `https://jira.example.com`), so the
  adapter rebuilds the url from it.
- System fields: summary, description, issuetype, priority (severity), status
  (name, id, statusCategory), resolution, components (component), versions
  (found_in_release), fixVersions (fixed_in_release), environment, assignee,
  labels (`;` split), created / resolutiondate / updated.
- Service is not the project: services such as `payments-api` are not valid
  project keys. It is a select custom field named "Service", like Team,
  Segment and Workaround (`Yes`/`No`); Users affected is a number field
  (JSON float), Deferral rationale, RCA link and Stack trace text fields. The
  response's `names` maps their ids to these display names, which the shipped
  `sources.jira.fields` name.
- duplicate_of: a "Duplicate" issue link with this issue as the outward side
  ("duplicates"), and the inward side ("is duplicated by") on the original.
- Status history: `changelog.histories`, newest first as Jira Cloud lists
  them, one `status` item each; history ids grow with time.
- Timestamps in Jira's form `2026-01-05T23:32:15.000+0000`, keeping each
  value's offset; canonical text without an offset is the generator's UTC wall
  time and is written as `+0000`. The status category (not a canonical
  column) follows the shipped policy's status vocabulary.

Identifiers are counters in row order and user ids hashes of the name, so the
same frames give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.defs.ingest.canonical import DEFECT_STATUS_HISTORY, DEFECTS
from pipelines.policy import load_policy, match_key

FILE = "jira/issues.json"
PAGE_FILE = "jira/issues-{number:04d}.json"
# Issues per page when there are more: a script paging through the search API
# writes such pages (~25 MB each here); one file of a million issues (2.5 GB)
# would exceed what the loader reads as one document.
PAGE_SIZE = 10_000
_DEFAULT_TRACKER = "https://jira.example.com"
_CUSTOM_FIELDS = {  # canonical column -> (field id, display name in `names`)
    "service": ("customfield_10100", "Service"),
    "team": ("customfield_10101", "Team"),
    "users_affected": ("customfield_10102", "Users affected"),
    "has_workaround": ("customfield_10103", "Workaround"),
    "segment": ("customfield_10104", "Segment"),
    "deferral_rationale": ("customfield_10105", "Deferral rationale"),
    "rca_link": ("customfield_10106", "RCA link"),
    "stack_trace": ("customfield_10107", "Stack trace"),
}
_SELECTS = {"service", "team", "segment", "has_workaround"}
_SYSTEM_NAMES = {
    "summary": "Summary", "description": "Description", "issuetype": "Issue Type", "project": "Project",
    "priority": "Priority", "status": "Status", "resolution": "Resolution", "resolutiondate": "Resolved",
    "created": "Created", "updated": "Updated", "labels": "Labels", "components": "Component/s",
    "versions": "Affects Version/s", "fixVersions": "Fix Version/s", "environment": "Environment",
    "assignee": "Assignee", "reporter": "Reporter", "issuelinks": "Linked Issues",
}
# Jira's three status categories, with their fixed ids.
_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
_CANONICAL_CATEGORY = {"new": "new", "triaged": "indeterminate", "in_progress": "indeterminate",
                       "deferred": "indeterminate", "resolved": "done", "closed": "done"}
_DUPLICATE = {"id": "10002", "name": "Duplicate", "inward": "is duplicated by", "outward": "duplicates"}
_ISO = r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*([zZ]|[+-]\d{2}:?\d{2})?$"


def write(frames: dict[str, pd.DataFrame], out_dir: Path, page_size: int = PAGE_SIZE) -> dict[str, int]:
    """Write `frames["defects"]` and `frames["defect_status_history"]` (canonical CSVs read as text):
    one page, or pages of `page_size` issues when there are more."""
    defects = _columns(frames["defects"], DEFECTS.column_names)
    history = _columns(frames.get("defect_status_history", pd.DataFrame()), DEFECT_STATUS_HISTORY.column_names)
    orphans = set(history["defect_id"]) - set(defects["defect_id"])
    if orphans:
        raise ValueError(f"status history for {len(orphans)} defects not in the defects frame, "
                         f"e.g. {min(orphans)!r}")

    history = history.assign(_at=_instants(history["changed_at"]))
    history = history.sort_values("_at", kind="stable", na_position="last")  # ids grow with time
    history["_id"] = range(30_000, 30_000 + len(history))
    status_ids = _status_ids(defects, history)
    histories = _histories(history, status_ids)
    by_defect = history.groupby("defect_id", sort=False).indices

    times = {
        "created": _jira_times(defects["created_at"]),
        "resolutiondate": _jira_times(defects["resolved_at"]),
        "updated": _jira_times(_updated(defects, history)),
    }
    categories = _categories(defects)
    trackers = _trackers(defects)
    issue_ids = {key: str(10_000 + n) for n, key in enumerate(defects["defect_id"])}
    duplicated_by = _duplicated_by(defects)

    records = defects.to_dict("records")
    names = dict(_CUSTOM_FIELDS.values()) | _SYSTEM_NAMES
    written: dict[str, int] = {}
    for start in range(0, max(len(records), 1), page_size):
        file = FILE if len(records) <= page_size else PAGE_FILE.format(number=start // page_size + 1)
        path = out_dir / file
        path.parent.mkdir(parents=True, exist_ok=True)
        page = records[start:start + page_size]
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(f'{{"expand":"names,schema","startAt":{start},"maxResults":{len(page)},'
                         f'"total":{len(records)},"issues":[')
            for n, record in enumerate(page, start=start):
                key = record["defect_id"]
                issue = {
                    "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                    "id": issue_ids[key],
                    "self": f"{trackers[n]}/rest/api/2/issue/{issue_ids[key]}",
                    "key": key,
                    "fields": _fields(record, {name: values[n] for name, values in times.items()},
                                      _status(record["status"], status_ids, categories[n])),
                    "changelog": _changelog([histories[i] for i in reversed(by_defect.get(key, []))]),
                }
                issue["fields"]["issuelinks"] = _issue_links(
                    n, record["duplicate_of"], duplicated_by.get(key, []), issue_ids, trackers[n])
                handle.write(("\n" if n == start else ",\n") + json.dumps(issue, ensure_ascii=False))
            handle.write('\n],"names":' + json.dumps(names, ensure_ascii=False) + "}\n")
        written[file] = len(page)
    return written


def _columns(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The frame with every canonical column (absent ones empty), as text."""
    return pd.DataFrame({name: frame[name].fillna("").astype(str) if name in frame else
                         pd.Series("", index=frame.index, dtype=object) for name in names})


def _updated(defects: pd.DataFrame, history: pd.DataFrame) -> pd.Series:
    """Jira's `updated`: the latest of created, resolved and the last status change, as UTC text."""
    latest_change = history.groupby("defect_id")["_at"].max().reindex(defects["defect_id"])
    updated = pd.concat(
        [_instants(defects["created_at"]), _instants(defects["resolved_at"]),
         pd.Series(latest_change.array, index=defects.index)], axis=1,
    ).max(axis=1)
    return updated.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").fillna("")


def _duplicated_by(defects: pd.DataFrame) -> dict[str, list[tuple[int, str]]]:
    """Original key -> [(row of a duplicate, its key)]; the row numbers the link, one id for both sides."""
    duplicates = defects.reset_index(drop=True)
    duplicates = duplicates[duplicates["duplicate_of"] != ""]
    return {
        original: list(zip(group.index, group["defect_id"], strict=True))
        for original, group in duplicates.groupby("duplicate_of", sort=False)
    }


def _instants(values: pd.Series) -> pd.Series:
    """Canonical timestamp text as UTC instants (no offset: UTC wall time); NaT when empty or bad."""
    return pd.to_datetime(values.where(values.str.strip() != ""), format="ISO8601", utc=True, errors="coerce")


def _jira_times(values: pd.Series) -> list[str | None]:
    """ISO-8601 text -> `2026-01-05T23:32:15.000+0000` with the same offset; other text unchanged."""
    parts = values.str.extract(_ISO)
    millis = parts[2].fillna("").str.pad(3, side="right", fillchar="0").str[:3]
    offset = parts[3].fillna("Z").str.upper().replace("Z", "+00:00").str.replace(":", "", regex=False)
    text = (parts[0] + "T" + parts[1] + "." + millis + offset).where(parts[0].notna(), values)
    return [value or None for value in text]


def _status_ids(defects: pd.DataFrame, history: pd.DataFrame) -> dict[str, str]:
    names = set(defects["status"]) | set(history["from_status"]) | set(history["to_status"])
    return {name: str(10_000 + n) for n, name in enumerate(sorted(names - {""}))}


def _categories(defects: pd.DataFrame) -> list[str]:
    """Each defect's statusCategory key: the shipped status vocabulary, else done iff resolved."""
    policy = load_policy()
    canonical = {match_key(name): status for status, names in policy.statuses.items() for name in names}
    canonical |= {match_key(status): status for status in _CANONICAL_CATEGORY}
    names = defects["status"].unique()
    category = {name: _CANONICAL_CATEGORY.get(canonical.get(match_key(name), "")) for name in names}
    fallback = defects["resolved_at"].str.strip().ne("").map({True: "done", False: "new"})
    return list(defects["status"].map(category).fillna(fallback))


def _trackers(defects: pd.DataFrame) -> list[str]:
    """The tracker base of each defect's url `<tracker>/browse/<key>`, else the default."""
    parts = defects["url"].str.extract(r"^(.+)/browse/([^/]+)$")
    return list(parts[0].where(parts[1] == defects["defect_id"], _DEFAULT_TRACKER))


def _user(name: str) -> dict[str, Any] | None:
    if not name:
        return None
    account = hashlib.sha1(name.encode("utf-8")).hexdigest()[:24]
    return {"accountId": account, "displayName": name, "active": True, "accountType": "atlassian"}


def _status(name: str, status_ids: dict[str, str], category: str) -> dict[str, Any] | None:
    if not name:
        return None
    return {"id": status_ids[name], "name": name, "statusCategory": _CATEGORIES[category]}


def _named(value: str) -> dict[str, str] | None:
    return {"name": value} if value else None


def _custom(column: str, value: str) -> Any:
    if not value:
        return None
    if column == "has_workaround":
        value = {"true": "Yes", "false": "No"}.get(value.strip().lower(), value)
    if column in _SELECTS:
        return {"value": value}
    if column == "users_affected":
        try:
            return float(value)  # Jira number fields are floats
        except ValueError:
            return value  # kept so the loader quarantines it, as it would the CSV
    return value


def _fields(record: dict[str, str], times: dict[str, str | None], status: dict[str, Any] | None) -> dict[str, Any]:
    key = record["defect_id"]
    project = key.rsplit("-", 1)[0] if "-" in key else key
    fields: dict[str, Any] = {
        "summary": record["title"] or None,
        "description": record["description"] or None,
        "issuetype": {"name": record["type"], "subtask": False} if record["type"] else None,
        "project": {"key": project, "name": project, "projectTypeKey": "software"},
        "priority": _named(record["severity"]),
        "status": status,
        "resolution": _named(record["resolution"]),
        **times,
        "labels": [label.strip() for label in record["labels"].split(";") if label.strip()],
        "components": [{"name": record["component"]}] if record["component"] else [],
        "versions": [{"name": record["found_in_release"]}] if record["found_in_release"] else [],
        "fixVersions": [{"name": record["fixed_in_release"]}] if record["fixed_in_release"] else [],
        "environment": record["environment"] or None,
        "assignee": _user(record["assignee"]),
        "reporter": None,
    }
    fields |= {field_id: _custom(column, record[column]) for column, (field_id, _) in _CUSTOM_FIELDS.items()}
    return fields


def _issue_links(n: int, duplicate_of: str, duplicated_by: list[tuple[int, str]], issue_ids: dict[str, str],
                 tracker: str) -> list[dict[str, Any]]:
    """The Duplicate links: outward to the original, inward from each duplicate (same link id both sides)."""
    def ref(key: str) -> dict[str, Any]:
        if key not in issue_ids:
            return {"key": key}
        return {"id": issue_ids[key], "key": key, "self": f"{tracker}/rest/api/2/issue/{issue_ids[key]}"}

    links = []
    if duplicate_of:
        links.append({"id": str(40_000 + n), "type": _DUPLICATE, "outwardIssue": ref(duplicate_of)})
    for row, duplicate in duplicated_by:
        links.append({"id": str(40_000 + row), "type": _DUPLICATE, "inwardIssue": ref(duplicate)})
    return links


def _histories(history: pd.DataFrame, status_ids: dict[str, str]) -> list[dict[str, Any]]:
    """One changelog history per transition, in the (sorted) frame's order."""
    changed = _jira_times(history["changed_at"])
    out = []
    for (record, when) in zip(history.to_dict("records"), changed, strict=True):
        entry: dict[str, Any] = {"id": str(record["_id"])}
        if record["actor"]:
            entry["author"] = _user(record["actor"])
        entry["created"] = when
        entry["items"] = [{
            "field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": status_ids.get(record["from_status"]), "fromString": record["from_status"] or None,
            "to": status_ids.get(record["to_status"]), "toString": record["to_status"] or None,
        }]
        out.append(entry)
    return out


def _changelog(histories: list[dict[str, Any]]) -> dict[str, Any]:
    return {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories}
