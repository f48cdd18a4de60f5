"""Canonical incidents -> `pagerduty/incidents.json` in the PagerDuty REST shape.

The file is what the README's PagerDuty recipe writes (`GET /incidents` with
`include[]=first_trigger_log_entries`, each incident's entries from
`GET /log_entries` put back into it), so the PagerDuty adapter reads it back
under the shipped policy:

- `id` is the canonical `incident_id`; `incident_number` counts from 1 in file order.
- severity -> `priority.summary` (PagerDuty priorities are named per account,
  so the raw name travels as is); `urgency` is always `high`.
- detected / acknowledged / resolved -> the trigger, acknowledge and resolve
  log entries (newest first, as the API lists them) and the incident's
  `created_at`, `acknowledgements`, `resolved_at`, `status`.
- The columns PagerDuty has no field for (environment, impact_started_at,
  deployment_id, linked_defect_ids, postmortem_link) are the triggering
  event's custom details (Events API v2 `payload.custom_details`), which the
  REST API shows as `channel.details` of the trigger log entry; the shipped
  `sources.pagerduty.fields` read them from there.

Timestamps are written in UTC with `Z`, as PagerDuty does; canonical text
without an offset is read as UTC (the shipped `default_timezone`), so every
instant survives. Identifiers are derived by hashing, so output is deterministic.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pandas as pd

FILE = "pagerduty/incidents.json"
PAGE_FILE = "pagerduty/incidents-{number:04d}.json"
# Incidents per page when there are more (the API pages by `offset`): one file
# of 50,000 incidents with their log entries (600 MB) would exceed what the
# loader reads as one document.
PAGE_SIZE = 10_000
_TIMES = ("impact_started_at", "detected_at", "acknowledged_at", "resolved_at")
_BASE = "https://defectflow-example.pagerduty.com"
_API = "https://api.pagerduty.com"
_RESPONDER = {"id": "PRESP01", "type": "user_reference", "summary": "On-call responder",
              "self": f"{_API}/users/PRESP01", "html_url": f"{_BASE}/users/PRESP01"}
_POLICY = {"id": "PESCAL1", "type": "escalation_policy_reference", "summary": "Default",
           "self": f"{_API}/escalation_policies/PESCAL1", "html_url": f"{_BASE}/escalation_policies/PESCAL1"}


def write(frames: dict[str, pd.DataFrame], out_dir: Path, page_size: int = PAGE_SIZE) -> dict[str, int]:
    """Write `frames["incidents"]` (canonical CSV read as text) as `out_dir/pagerduty/incidents.json`,
    or above `page_size` incidents as the API's pages (`incidents-0001.json`, ... with `offset`,
    `limit` and `more`)."""
    incidents = frames["incidents"]
    times = {column: _utc_text(incidents[column]) for column in _TIMES}
    rows = zip(incidents.to_dict("records"), *(times[c] for c in _TIMES), strict=True)
    (out_dir / "pagerduty").mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for offset in range(0, max(len(incidents), 1), page_size):
        paged = len(incidents) > page_size
        file = PAGE_FILE.format(number=offset // page_size + 1) if paged else FILE
        page = list(itertools.islice(rows, page_size))
        with (out_dir / file).open("w", encoding="utf-8") as handle:
            handle.write('{"incidents": [')
            for number, (record, *stamps) in enumerate(page, start=offset + 1):
                at = dict(zip(_TIMES, stamps, strict=True))
                handle.write(("\n" if number == offset + 1 else ",\n") + json.dumps(_incident(number, record, at)))
            more = offset + page_size < len(incidents)
            handle.write("\n]" + (f', "limit": {page_size}, "offset": {offset}, "more": {json.dumps(more)}, '
                                   '"total": null' if paged else "") + "}\n")
        written[file] = len(page)
    return written


def _utc_text(column: pd.Series) -> list[str | None]:
    """ISO-8601 UTC text (`...Z`) per value; empty text stays None."""
    text = column.where(column.str.strip() != "")
    parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    formatted = parsed.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [None if pd.isna(value) else value for value in formatted]


def _incident(number: int, row: dict[str, str], at: dict[str, str | None]) -> dict[str, Any]:
    incident_id = row["incident_id"]
    url = f"{_BASE}/incidents/{incident_id}"
    service_id = _pd_id("P", f"service:{row['service']}", 6)
    service = {"id": service_id, "type": "service_reference", "summary": row["service"] or None,
               "self": f"{_API}/services/{service_id}", "html_url": f"{_BASE}/service-directory/{service_id}"}
    reference = {"id": incident_id, "type": "incident_reference", "summary": f"[#{number}] {row['title']}",
                 "self": f"{_API}/incidents/{incident_id}", "html_url": url}
    trigger = _entry(incident_id, "trigger", at["detected_at"], reference, service, {
        "type": "api",
        "summary": row["title"],
        "details": _custom_details(row, at["impact_started_at"]),
    })
    entries = [trigger]
    if at["acknowledged_at"]:
        entries.insert(0, _entry(incident_id, "acknowledge", at["acknowledged_at"], reference, service,
                                 {"type": "website"}))
    if at["resolved_at"]:
        entries.insert(0, _entry(incident_id, "resolve", at["resolved_at"], reference, service, {"type": "website"}))
    status = "resolved" if at["resolved_at"] else "acknowledged" if at["acknowledged_at"] else "triggered"
    changed = at["resolved_at"] or at["acknowledged_at"] or at["detected_at"]
    priority = None
    if row["severity"]:
        priority_id = _pd_id("P", f"priority:{row['severity']}", 6)
        priority = {"id": priority_id, "type": "priority_reference", "summary": row["severity"],
                    "self": f"{_API}/priorities/{priority_id}"}
    return {
        "incident_number": number,
        "title": row["title"],
        "description": row["title"],
        "created_at": at["detected_at"],
        "updated_at": changed,
        "status": status,
        "incident_key": hashlib.sha1(incident_id.encode()).hexdigest()[:32],
        "service": service,
        "assignments": [],
        "last_status_change_at": changed,
        "resolved_at": at["resolved_at"],
        "first_trigger_log_entry": trigger,
        "escalation_policy": _POLICY,
        "teams": [],
        "acknowledgements": (
            [{"at": at["acknowledged_at"], "acknowledger": _RESPONDER}] if status == "acknowledged" else []
        ),
        "urgency": "high",
        "priority": priority,
        "id": incident_id,
        "type": "incident",
        "summary": reference["summary"],
        "self": reference["self"],
        "html_url": url,
        "log_entries": entries,
    }


def _custom_details(row: dict[str, str], impact_started_at: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {
        "environment": row["environment"],
        "impact_started_at": impact_started_at,
        "deployment_id": row["deployment_id"],
        "linked_defect_ids": [key for key in row["linked_defect_ids"].split(";") if key],
        "postmortem_link": row["postmortem_link"],
    }
    return {key: value for key, value in details.items() if value}


def _entry(incident_id: str, kind: str, created_at: str | None, incident: dict[str, Any],
           service: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
    entry_id = _pd_id("R", f"log_entry:{incident_id}/{kind}", 25)
    agent = service if kind == "trigger" else _RESPONDER
    summary = {"trigger": "Triggered through the API.", "acknowledge": "Acknowledged by On-call responder.",
               "resolve": "Resolved by On-call responder."}[kind]
    return {
        "id": entry_id,
        "type": f"{kind}_log_entry",
        "summary": summary,
        "self": f"{_API}/log_entries/{entry_id}",
        "html_url": f"{_BASE}/incidents/{incident_id}/log_entries/{entry_id}",
        "created_at": created_at,
        "agent": agent,
        "channel": channel,
        "incident": incident,
        "teams": [],
        "event_details": {},
    }


def _pd_id(prefix: str, key: str, length: int) -> str:
    """A PagerDuty-looking id (upper-case letters and digits), the same for the same key."""
    digest = hashlib.sha256(key.encode()).hexdigest().upper()
    return prefix + digest[:length]
