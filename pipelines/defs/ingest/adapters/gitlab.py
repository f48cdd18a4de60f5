"""GitLab deployments: the REST `GET /projects/:id/deployments` array -> deployments.

The status is mapped here, not in staging, because the canonical deployment
status is an outcome (succeeded | failed | rolled_back) and GitLab's is a job
state: `sources.gitlab.deployment_statuses` says which is which; an
unfinished deployment (running, blocked, ...) or a status nobody listed is
emitted with a `_reason`, so the loader quarantines it and says why.

GitLab has no "rolled back" status. Rollbacks are inferred in staging
(stg_exports__deployments), over the deployments of every file of the build:
inferred here, within one file, a rollback whose two deployments came in two
incremental pulls would be missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import pick, readable, resolve
from pipelines.policy import match_key

NAME = "gitlab deployments json"
SOURCE = "gitlab"
KIND = "json"

_MAPPED = ("service", "release", "environment")


def matches(doc: Any) -> bool:
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(item, dict) for item in doc)
        and {"iid", "ref", "sha", "status"} <= doc[0].keys()
        and isinstance(doc[0].get("environment"), dict)
    )


def parse(doc: list[dict[str, Any]], ctx: ParseContext) -> Parsed:
    statuses = {
        match_key(name): canonical
        for canonical, names in ctx.mapping.deployment_statuses.items()
        for name in (canonical, *names)
    }
    return Parsed({"deployments": [_deployment(item, ctx, statuses) for item in doc]}, [])


def _deployment(item: Mapping[str, Any], ctx: ParseContext, statuses: dict[str, str]) -> Row:
    record = _with_project(item)
    row: Row = {column: pick(record, ctx.mapping.fields.get(column, [])) for column in _MAPPED}
    raw_status = readable(item.get("status"))
    status = statuses.get(match_key(raw_status or ""))
    row.update(
        deployment_id=readable(item.get("id")),
        segment=None,
        started_at=readable(resolve(item, "deployable.started_at")) or readable(item.get("created_at")),
        finished_at=readable(resolve(item, "deployable.finished_at")) or readable(item.get("updated_at")),
        status=status if status in ("succeeded", "failed", "rolled_back") else raw_status,
        commit_sha=readable(item.get("sha")),
        is_hotfix=None,
        rollback_of=None,
        source_updated_at=readable(item.get("updated_at")),
    )
    if status == "unfinished":
        row["_reason"] = f"deployment is {raw_status}, not finished"
    elif status is None:
        row["_reason"] = (
            f"unknown deployment status {raw_status!r} "
            "(list it under sources.gitlab.deployment_statuses in the policy)"
        )
    return row


def _with_project(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The deployment with a `project` object (name, path_with_namespace) read from its job or pipeline URL.

    The deployments API names the project only by id, inside the pipeline;
    its web URLs (`https://host/group/sub/project/-/jobs/1`) carry the path.
    """
    if item.get("project"):
        return item
    for path in ("deployable.pipeline.web_url", "deployable.web_url"):
        url = resolve(item, path)
        if isinstance(url, str) and "/-/" in url:
            project_path = urlparse(url).path.split("/-/", 1)[0].strip("/")
            if project_path:
                name = project_path.rpartition("/")[2]
                return {**item, "project": {"name": name, "path_with_namespace": project_path}}
    return item
