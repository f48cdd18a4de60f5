"""PagerDuty incidents with their log entries: `GET /incidents` paged by `offset`/`limit`/`more`.

Each page is written as `{"incidents": [...]}` with every incident's log entries embedded as
`log_entries` (from `GET /incidents/{id}/log_entries`), the shape the `pagerduty incidents json`
adapter reads and the README's hand-export recipe makes: only the log keeps the first
acknowledgement of an incident that was re-triggered or resolved.

`since`/`until` select incidents by creation time, so a window alone would never see an incident
created before the last pull but resolved after it. The cursor therefore holds the end of the
last window and the ids of the incidents still open then; the next pull fetches the new window
and fetches those open incidents again (`GET /incidents/{id}`), whatever their state now.
The first pull asks for `date_range=all`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from pipelines.connectors import base
from pipelines.connectors.base import Connection, ConnectorError, Cursors, Sleep, read_token

SOURCE = "pagerduty"
SCHEME = "Token token="  # PagerDuty's REST API key header: `Authorization: Token token=<key>`
_OPEN = ("triggered", "acknowledged")


def _root(connection: Connection) -> str:
    return connection.base_url.rstrip("/")


def incidents_url(connection: Connection, offset: int, since: str | None, until: str) -> str:
    window = {"since": since, "until": until} if since else {"date_range": "all"}
    params = {"limit": connection.page_size, "offset": offset, "total": "false",
              "sort_by": "created_at:asc", **window}
    return f"{_root(connection)}/incidents?{urlencode(params)}"


def log_entries_url(connection: Connection, incident_id: str, offset: int) -> str:
    params = {"limit": connection.page_size, "offset": offset, "total": "false"}
    return f"{_root(connection)}/incidents/{quote(incident_id, safe='')}/log_entries?{urlencode(params)}"


def pull(connection: Connection, exports: Path, cursors: Cursors, sleep: Sleep = time.sleep,
         now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[Path]:
    """Fetch the incidents created since the last pull and those open then; returns the files written."""
    token = read_token(SOURCE, connection)
    state = _state(cursors.get(SOURCE))
    until = now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = base.pull_stamp()
    get = _getter(token, sleep)
    written: list[Path] = []
    seen: set[str] = set()
    still_open: list[str] = []

    def emit(incidents: list[dict]) -> None:
        for incident in incidents:
            incident["log_entries"] = _log_entries(connection, incident["id"], get)
            seen.add(incident["id"])
            if incident.get("status") in _OPEN:
                still_open.append(incident["id"])
        name = f"pagerduty-incidents-{stamp}-p{len(written) + 1:03d}.json"
        written.append(base.write_page(exports / SOURCE, name, {"incidents": incidents}))

    offset, more = 0, True
    while more:
        page = get(incidents_url(connection, offset, state.get("until"), until))
        incidents = _list(page, "incidents")
        if incidents:
            emit(incidents)
        offset += len(incidents)
        more = bool(page.get("more")) and bool(incidents)  # an empty page with `more` must not loop forever
    revisit = [incident_id for incident_id in state.get("open", []) if incident_id not in seen]
    if revisit:
        emit([_incident(get(f"{_root(connection)}/incidents/{quote(i, safe='')}")) for i in revisit])
    cursors.set(SOURCE, json.dumps({"until": until, "open": sorted(still_open)}))
    return written


def _getter(token: str, sleep: Sleep) -> Callable[[str], dict]:
    def get(url: str) -> dict:
        delivery = base.fetch(SOURCE, url, token, SCHEME, sleep)
        try:
            doc = json.loads(delivery.body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise ConnectorError(f"{SOURCE}: {delivery.url} did not return a JSON object")
        return doc
    return get


def _log_entries(connection: Connection, incident_id: str, get: Callable[[str], dict]) -> list[dict]:
    entries: list[dict] = []
    more = True
    while more:
        page = get(log_entries_url(connection, incident_id, len(entries)))
        batch = _list(page, "log_entries")
        entries += batch
        more = bool(page.get("more")) and bool(batch)
    return entries


def _list(page: dict, key: str) -> list[dict]:
    items = page.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConnectorError(f"{SOURCE}: a page has no `{key}` list")
    if key == "incidents" and not all(isinstance(item.get("id"), str) for item in items):
        raise ConnectorError(f"{SOURCE}: an incident has no id")
    return items


def _incident(doc: dict) -> dict:
    incident = doc.get("incident")
    if not isinstance(incident, dict) or not isinstance(incident.get("id"), str):
        raise ConnectorError(f"{SOURCE}: GET /incidents/{{id}} did not return an incident")
    return incident


def _state(text: str | None) -> dict:
    """The cursor: `{"until": <end of the last window>, "open": [ids open then]}`; none before the first pull."""
    if not text:
        return {}
    try:
        state = json.loads(text)
    except ValueError:
        state = None
    if not isinstance(state, dict):
        raise ConnectorError(f"{SOURCE}: the pull cursor is unreadable; delete its entry in the pull-state file "
                             "to pull everything again")
    return state
