"""Opsgenie incidents: the REST list response `{"data": [...]}` (GET /v1/incidents) -> incidents.

One incident object as GET /v1/incidents/{id} returns it in `data`, or as
exported alone, is read the same way. `incident_id` is the incident's `id`
(a UUID, the key of its API and web links); `tinyId` is a display counter.
`detected_at` is `createdAt`; `resolved_at` is `impactEndDate` once the
incident is resolved or closed (Opsgenie sets it on resolve; responders may
correct it, as they may `impactStartDate`, the mapped `impact_started_at`).
An open incident's `impactEndDate` is the responders' estimate of when the
impact ended, not a resolution: it is left out. The incident
list has no acknowledgement time. The other columns come from the policy's
mapping (`sources.opsgenie.fields`): a dotted path into the incident
(`extraProperties.<name>` for its custom properties) or `label:<prefix>` for
a tag such as `env:production`; `priority` P1-P5 maps through the severities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import pick, readable
from pipelines.policy import OPEN_STATUSES, STATUSES

NAME = "opsgenie incidents json"
SOURCE = "opsgenie"
KIND = "json"

# Opsgenie names its finished incidents as the canonical closed statuses do (resolved, closed).
_DONE = frozenset(STATUSES) - frozenset(OPEN_STATUSES)
# Canonical columns the policy's field mapping fills.
_MAPPED = ("severity", "service", "environment", "impact_started_at", "deployment_id", "linked_defect_ids",
           "postmortem_link")


def _is_incident(item: Any) -> bool:
    # An Opsgenie alert also has tinyId/createdAt/priority; only an incident has impacted services.
    return isinstance(item, Mapping) and {"tinyId", "createdAt"} <= item.keys() and (
        "impactedServices" in item or "impactStartDate" in item)


def _incidents(doc: Any) -> list[Any] | None:
    data = doc.get("data", doc) if isinstance(doc, dict) else None
    if isinstance(data, list):
        return data if data and _is_incident(data[0]) else None
    return [data] if _is_incident(data) else None


def matches(doc: Any) -> bool:
    return _incidents(doc) is not None


def parse(doc: Any, ctx: ParseContext) -> Parsed:
    incidents = _incidents(doc) or []
    return Parsed({"incidents": [_incident(item, ctx) for item in incidents]})


def _incident(incident: Mapping[str, Any], ctx: ParseContext) -> Row:
    fields = ctx.mapping.fields
    tags = [text for text in (readable(tag) for tag in incident.get("tags") or []) if text]
    row: Row = {column: pick(incident, fields.get(column, []), tags) for column in _MAPPED}
    row.update(
        incident_id=readable(incident.get("id")),
        title=readable(incident.get("message")),
        detected_at=readable(incident.get("createdAt")),
        acknowledged_at=None,
        resolved_at=readable(incident.get("impactEndDate")) if incident.get("status") in _DONE else None,
        source_updated_at=readable(incident.get("updatedAt")),
    )
    return row
