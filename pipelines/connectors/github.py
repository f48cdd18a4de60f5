"""GitHub issues: `GET /repos/{owner}/{repo}/issues`, paged by the `Link` header, incremental by `since`.

Pages are written as the JSON arrays the endpoint returns, which the `github issues json` adapter
reads. Issues come oldest-updated first so the cursor (the newest `updated_at` seen) only moves
forward; `since` is inclusive, so the issue at the cursor comes again and ingest keeps its newest copy.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import urlencode

from pipelines import outbound
from pipelines.connectors import base
from pipelines.connectors.base import Connection, ConnectorError, Cursors, Sleep, read_token

SOURCE = "github"
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def first_url(connection: Connection, since: str | None) -> str:
    if not connection.project:
        raise ConnectorError(f"{SOURCE}: connection needs project (owner/repo)")
    params = {"state": "all", "sort": "updated", "direction": "asc", "per_page": connection.page_size}
    if since:
        params["since"] = since
    return f"{connection.base_url.rstrip('/')}/repos/{connection.project}/issues?{urlencode(params)}"


def next_url(link_header: str | None) -> str | None:
    match = _NEXT.search(link_header or "")
    return match.group(1) if match else None


def pull(connection: Connection, exports: Path, cursors: Cursors, sleep: Sleep = time.sleep) -> list[Path]:
    """Fetch every issue updated since the last pull; returns the files written."""
    token = read_token(SOURCE, connection)
    stamp = base.pull_stamp()
    url: str | None = first_url(connection, cursors.get(SOURCE))
    written: list[Path] = []
    newest = cursors.get(SOURCE)
    while url:
        delivery = base.fetch(SOURCE, url, token, "Bearer", sleep)
        issues = _issues(delivery)
        if issues:
            name = f"github-issues-{stamp}-p{len(written) + 1:03d}.json"
            written.append(base.write_page(exports / SOURCE, name, issues))
            newest = max([newest or "", *(issue["updated_at"] for issue in issues)])
        url = next_url(delivery.headers.get("Link"))
    if newest:
        cursors.set(SOURCE, newest)
    return written


def _issues(delivery: outbound.Delivery) -> list[dict]:
    doc = json.loads(delivery.body)
    if not isinstance(doc, list):
        raise ConnectorError(f"{SOURCE}: {delivery.url} did not return a JSON array of issues")
    return doc
