"""GitLab deployments: `GET /projects/:id/deployments`, paged by `X-Next-Page`, incremental by `updated_after`.

One pull is written as one JSON array (the endpoint's shape, which the `gitlab deployments json`
adapter reads), not one file per page, as a hand export is; rollbacks are inferred in staging over
every file, so neither pages nor pulls need to hold both deployments of one. Deployments come
oldest-updated first (`updated_after` needs `order_by=updated_at`); the cursor is the newest
`updated_at` seen. The token goes in `Authorization: Bearer`, which GitLab accepts for personal,
project and group access tokens like `PRIVATE-TOKEN`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from pipelines import outbound
from pipelines.connectors import base
from pipelines.connectors.base import Connection, ConnectorError, Cursors, Sleep, read_token

SOURCE = "gitlab"
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def first_url(connection: Connection, updated_after: str | None, page: int = 1) -> str:
    if not connection.project:
        raise ConnectorError(f"{SOURCE}: connection needs project (its numeric id or group/project path)")
    params: dict[str, object] = {"order_by": "updated_at", "sort": "asc", "per_page": connection.page_size}
    if updated_after:
        params["updated_after"] = updated_after
    if page > 1:
        params["page"] = page
    project = quote(connection.project, safe="")
    return f"{connection.base_url.rstrip('/')}/projects/{project}/deployments?{urlencode(params)}"


def next_url(connection: Connection, updated_after: str | None, headers: dict[str, str]) -> str | None:
    """The `Link` header's next page, else the page `X-Next-Page` names (empty on the last page)."""
    match = _NEXT.search(headers.get("Link", ""))
    if match:
        return match.group(1)
    page = headers.get("X-Next-Page", "").strip()
    return first_url(connection, updated_after, int(page)) if page.isdigit() else None


def pull(connection: Connection, exports: Path, cursors: Cursors, sleep: Sleep = time.sleep) -> list[Path]:
    """Fetch every deployment updated since the last pull; returns the file written (none when nothing changed)."""
    token = read_token(SOURCE, connection)
    since = cursors.get(SOURCE)
    url: str | None = first_url(connection, since)
    deployments: list[dict] = []
    while url:
        delivery = base.fetch(SOURCE, url, token, "Bearer", sleep)
        page = _deployments(delivery)
        deployments += page
        url = next_url(connection, since, delivery.headers) if page else None
    if not deployments:
        return []
    name = f"gitlab-deployments-{base.pull_stamp()}.json"
    written = base.write_page(exports / SOURCE, name, deployments)
    cursors.set(SOURCE, max([since or "", *(str(item.get("updated_at") or "") for item in deployments)]))
    return [written]


def _deployments(delivery: outbound.Delivery) -> list[dict]:
    try:
        doc = json.loads(delivery.body)
    except ValueError:
        doc = None
    if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
        raise ConnectorError(f"{SOURCE}: {delivery.url} did not return a JSON array of deployments")
    return doc
