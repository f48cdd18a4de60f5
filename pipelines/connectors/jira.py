"""Jira: REST `GET /rest/api/2/search` with JQL and the changelog, paged by `startAt`.

Each pull is one search saved as its pages in a folder of its own, so the pages share the
`total` the paged-export rule groups by (docs/contract.md "Paged exports"). The cursor is
the newest `fields.updated` seen; the next pull adds `updated >= "<cursor>"` to the JQL.
JQL compares minutes in the Jira user's time zone, so the cursor is written in that
precision and the issues of that minute come again (ingest keeps their newest copy).
Cloud signs in with email + API token (`auth: basic`), Data Center with a PAT (`auth: bearer`).
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from pipelines.connectors import base
from pipelines.connectors.base import Connection, ConnectorError, Cursors, Sleep, read_token

SOURCE = "jira"


def credentials(connection: Connection) -> tuple[str, str]:
    """(header value, scheme) for Cloud (basic) or Data Center (bearer PAT)."""
    token = read_token(SOURCE, connection)
    if connection.auth != "basic":
        return token, "Bearer"
    email = os.environ.get(connection.email_env or "", "").strip()
    if not email:
        raise ConnectorError(f"{SOURCE}: auth basic needs email_env naming a variable that holds the account email")
    return base64.b64encode(f"{email}:{token}".encode()).decode(), "Basic"


def jql(connection: Connection, since: str | None) -> str:
    base = connection.query or (f"project = {connection.project}" if connection.project else "")
    if not base:
        raise ConnectorError(f"{SOURCE}: connection needs query (JQL) or project")
    clause = f'({base}) AND updated >= "{since}"' if since else f"({base})"
    return f"{clause} ORDER BY updated ASC"


def search_url(connection: Connection, query: str, start_at: int) -> str:
    params = {"jql": query, "startAt": start_at, "maxResults": connection.page_size,
              "expand": "changelog", "fields": "*all"}
    return f"{connection.base_url.rstrip('/')}/rest/api/2/search?{urlencode(params)}"


def jql_minute(updated: str) -> str:
    """Jira's `2026-11-04T10:07:31.000+0000` as JQL's `2026/11/04 10:07`."""
    return datetime.strptime(updated, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC).strftime("%Y/%m/%d %H:%M")


def pull(connection: Connection, exports: Path, cursors: Cursors, sleep: Sleep = time.sleep) -> list[Path]:
    """Fetch every page of the search; returns the files written."""
    secret, scheme = credentials(connection)
    query = jql(connection, cursors.get(SOURCE))
    folder = exports / SOURCE / base.pull_stamp()
    written: list[Path] = []
    newest: list[str] = []
    start_at, total = 0, None
    while total is None or start_at < total:
        page = json.loads(base.fetch(SOURCE, search_url(connection, query, start_at), secret, scheme, sleep).body)
        issues, total = page.get("issues") or [], int(page.get("total", 0))
        if not issues:
            break  # a shrinking result set must not loop forever
        written.append(base.write_page(folder, f"search-p{len(written) + 1:03d}.json", page))
        newest += [issue["fields"]["updated"] for issue in issues if issue.get("fields", {}).get("updated")]
        start_at += len(issues)
    if newest:
        cursors.set(SOURCE, jql_minute(max(newest, key=jql_minute)))
    return written
