"""GitLab deployments: the REST `GET /projects/:id/deployments` array -> deployments.

The status is mapped here, not in staging, because the canonical deployment
status is an outcome (succeeded | failed | rolled_back) and GitLab's is a job
state: `sources.gitlab.deployment_statuses` says which is which; an
unfinished deployment (running, blocked, ...) or a status nobody listed is
emitted with a `_reason`, so the loader quarantines it and says why.

GitLab has no "rolled back" status; rollbacks are inferred within the file
(`_mark_rollbacks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.common import instant, pick, readable, resolve
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
    rows = [_deployment(item, ctx, statuses) for item in doc]
    rolled_back = _mark_rollbacks(rows, ctx.policy.default_timezone)
    notes = [f"{rolled_back} rollbacks inferred"] if rolled_back else []
    return Parsed({"deployments": rows}, notes)


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


def _mark_rollbacks(rows: list[Row], tz: str) -> int:
    """Infer rollbacks among the succeeded deployments of each (service, environment); return how many.

    The rule: take the succeeded deployments to one service and environment
    in order of `finished_at`. A deployment's version is its commit sha (its
    release when it has no sha). A deployment D is a rollback when its
    version was already deployed there and its version's first deployment
    there precedes the first deployment of the version running just before
    D (the latest succeeded deployment before D). Then D.rollback_of is that
    previous deployment, whose status becomes `rolled_back`. So A, B, A is a
    rollback of B, while A, B, A, B (B again) is a roll-forward, not a second
    rollback; failed deployments in between change nothing (they never ran).
    """
    groups: dict[tuple[Any, Any], list[tuple[Any, int, Row]]] = {}
    for position, row in enumerate(rows):
        finished = instant(row["finished_at"], tz)
        if row["status"] == "succeeded" and "_reason" not in row and finished is not None:
            groups.setdefault((row["service"], row["environment"]), []).append((finished, position, row))
    count = 0
    for deployments in groups.values():
        deployments.sort(key=lambda entry: (entry[0], entry[1]))
        first_seen: dict[str, int] = {}  # version -> order of its first deployment here
        previous: Row | None = None
        for order, (_, _, row) in enumerate(deployments):
            version = row["commit_sha"] or row["release"] or ""
            if previous is not None:
                running = previous["commit_sha"] or previous["release"] or ""
                if version != running and first_seen.get(version, order) < first_seen[running]:
                    row["rollback_of"] = previous["deployment_id"]
                    previous["status"] = "rolled_back"
                    count += 1
            first_seen.setdefault(version, order)
            previous = row
    return count
