"""PagerDuty incidents: the REST `{"incidents": [...]}` response -> incidents.

`incident_id` is the incident's `id` (e.g. `Q3YON8WNWTZMRQ`), the key the API
and the incident's URL use; `incident_number` is a display counter, used only
when an export has no `id`.

Times come from the incident's log entries when the export embeds them as
`log_entries` (the API has no such include: the README's recipe embeds the
pages of `GET /log_entries`, docs/recipes/pagerduty_log_entries.jq): an
incident can be acknowledged, re-triggered and acknowledged again, and only
the log keeps the first acknowledgement (the incident's `acknowledgements`
list holds the current ones and is emptied on resolve). Without log entries
the incident's own fields are used, and the load report counts the resolved
incidents whose acknowledgement is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import instant, join_list, pick, readable, resolve

NAME = "pagerduty incidents json"
SOURCE = "pagerduty"
KIND = "json"

# Canonical columns the policy's field mapping fills (`sources.pagerduty.fields`).
_MAPPED = ("severity", "service", "environment", "impact_started_at", "deployment_id", "postmortem_link")


def matches(doc: Any) -> bool:
    if not isinstance(doc, dict) or not isinstance(doc.get("incidents"), list):
        return False
    return all(
        isinstance(item, dict) and ("incident_number" in item or "id" in item) and "created_at" in item
        for item in doc["incidents"][:1]
    )


def parse(doc: dict[str, Any], ctx: ParseContext) -> Parsed:
    tz = ctx.policy.default_timezone
    return Parsed({"incidents": [_incident(item, ctx, tz) for item in doc["incidents"]]}, _notes(doc["incidents"]))


def _notes(incidents: list[Any]) -> list[str]:
    unlogged = sum(1 for item in incidents if item.get("status") == "resolved" and "log_entries" not in item)
    if not unlogged:
        return []
    return [f"{unlogged} resolved incidents without their log entries: no acknowledgement time "
            "(embed GET /log_entries as the README's PagerDuty recipe does)"]


def _incident(incident: Mapping[str, Any], ctx: ParseContext, tz: str) -> Row:
    entries = [e for e in incident.get("log_entries") or [] if isinstance(e, Mapping)]
    record = _with_first_trigger(incident, entries)
    fields = ctx.mapping.fields
    row: Row = {column: pick(record, fields.get(column, [])) for column in _MAPPED}
    row.update(
        incident_id=readable(incident.get("id")) or readable(incident.get("incident_number")),
        title=readable(incident.get("title")),
        detected_at=readable(incident.get("created_at")),
        acknowledged_at=_acknowledged_at(incident, entries, tz),
        resolved_at=_resolved_at(incident, entries, tz),
        linked_defect_ids=_first_list(record, fields.get("linked_defect_ids", [])),
        source_updated_at=readable(incident.get("updated_at")) or readable(incident.get("last_status_change_at")),
    )
    return row


def _with_first_trigger(incident: Mapping[str, Any], entries: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The incident with `first_trigger_log_entry` expanded from the embedded log when it is only a reference.

    Without `include[]=first_trigger_log_entries` the API gives a reference
    (id, summary); the same entry in `log_entries` carries the trigger's
    `channel.details`, where the mapped custom fields live.
    """
    first = incident.get("first_trigger_log_entry")
    if not isinstance(first, Mapping) or "channel" in first:
        return incident
    full = next((e for e in entries if e.get("id") == first.get("id")), None)
    return {**incident, "first_trigger_log_entry": full} if full else incident


def _acknowledged_at(incident: Mapping[str, Any], entries: list[Mapping[str, Any]], tz: str) -> str | None:
    """The first acknowledgement: the earliest acknowledge log entry, else the earliest `acknowledgements[].at`."""
    logged = _times(entries, "acknowledge_log_entry", "created_at")
    current = [a.get("at") for a in incident.get("acknowledgements") or [] if isinstance(a, Mapping)]
    return _earliest(logged or current, tz)


def _resolved_at(incident: Mapping[str, Any], entries: list[Mapping[str, Any]], tz: str) -> str | None:
    """The resolve log entry's time, else `resolved_at`, else the last status change of a resolved incident."""
    logged = _times(entries, "resolve_log_entry", "created_at")
    if logged:
        return _latest(logged, tz)
    if incident.get("resolved_at"):
        return readable(incident["resolved_at"])
    if incident.get("status") == "resolved":
        return readable(incident.get("last_status_change_at"))
    return None


def _times(entries: Iterable[Mapping[str, Any]], entry_type: str, key: str) -> list[Any]:
    return [e.get(key) for e in entries if e.get("type") == entry_type and e.get(key)]


def _earliest(texts: list[Any], tz: str) -> str | None:
    return _extreme(texts, tz, min)


def _latest(texts: list[Any], tz: str) -> str | None:
    return _extreme(texts, tz, max)


def _extreme(texts: list[Any], tz: str, choose: Callable[..., Any]) -> str | None:
    """The earliest/latest timestamp as its source text; unparseable text is passed on for the loader to report."""
    timed = [(when, str(text)) for text in texts if (when := instant(text, tz)) is not None]
    if timed:
        return choose(timed, key=lambda pair: pair[0])[1]
    return readable(texts[0]) if texts else None


def _first_list(record: Mapping[str, Any], paths: list[str]) -> str | None:
    """A multi-valued custom field: a JSON list or an already `;`-separated text."""
    for path in paths:
        value = resolve(record, path)
        text = join_list(value) if isinstance(value, list) else readable(value)
        if text:
            return text
    return None
