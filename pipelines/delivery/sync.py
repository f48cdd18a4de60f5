"""`defectflow sync`: what the warehouse computes about each defect, as Jira REST update payloads
(docs/contract.md "sync").

One `PUT /rest/api/2/issue/{key}` per defect with the fields the policy maps
(`tracker.fields`): its cluster (marts.defect_clusters.cluster_id), its duplicate candidates
above the policy's threshold (marts.duplicate_candidates, best first), its priority score and
SLA breach (marts.fct_defects). Only defects whose id is a tracker key (policy
`defect_key_pattern`) are synced, open ones unless `--all`. The payloads are built in SQL: the
warehouse's defects are not walked in Python.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import duckdb

from pipelines import outbound
from pipelines.policy import Policy, TrackerFields
from pipelines.warehouse import connect

EXIT_OK, EXIT_UNDELIVERED, EXIT_ERROR = 0, 1, 2
ISSUE_PATH = "/rest/api/2/issue/"

# The computed field -> its JSON value in the payload. Jira has no boolean field: a breach goes to a
# Yes/No select list, whose value is an option object.
VALUES = {
    "cluster_id": "c.cluster_id",
    "duplicate_candidates": "coalesce(x.duplicate_candidates, '')",
    "priority_score": "round(d.priority_score, 4)",
    "sla_breached": "case when d.sla_breached is not null "
                    "then json_object('value', case when d.sla_breached then 'Yes' else 'No' end) end",
}

PAYLOADS_SQL = """
with duplicates as (
    select defect_id, string_agg(candidate_id, ', ' order by rank) as duplicate_candidates
    from marts.duplicate_candidates
    where above_threshold
    group by defect_id
)

select
    d.defect_id,
    json_object('key', d.defect_id, 'method', 'PUT', 'path', ? || d.defect_id,
        'body', json_object('fields', json_object({fields}))) as line
from marts.fct_defects as d
left join marts.defect_clusters as c on d.defect_id = c.defect_id
left join duplicates as x on d.defect_id = x.defect_id
where (d.is_open or ?) and regexp_full_match(d.defect_id, ?) and (d.service = ? or ? is null)
order by d.defect_id
"""


class SyncError(Exception):
    """No payloads can be given; the message says why (exit 2)."""


@dataclass(frozen=True)
class Scope:
    service: str | None = None
    include_closed: bool = False


def configured(fields: TrackerFields) -> dict[str, str]:
    """Computed field -> Jira field id, for the fields the policy maps."""
    mapped = {name: field_id for name in VALUES if (field_id := getattr(fields, name))}
    if not mapped:
        raise SyncError("the policy maps no computed field to a Jira field: set tracker.fields "
                        f"({', '.join(VALUES)}) to your instance's field ids")
    return mapped


def payload_lines(warehouse: Path, policy: Policy, scope: Scope) -> list[str]:
    """One JSON line per defect: {"key", "method", "path", "body"}, ordered by key."""
    mapped = configured(policy.tracker.fields)
    # The SQL text holds only this module's column expressions; field ids and filters are bound.
    arguments = ", ".join(f"?, {VALUES[name]}" for name in mapped)
    parameters = [ISSUE_PATH, *mapped.values(), scope.include_closed, policy.defect_key_pattern,
                  scope.service, scope.service]
    if not warehouse.exists():
        raise SyncError(f"warehouse {warehouse} does not exist: run `defectflow build` first")
    try:
        with connect(warehouse, read_only=True) as con:
            frame = con.execute(PAYLOADS_SQL.replace("{fields}", arguments), parameters).df()
    except (duckdb.CatalogException, duckdb.IOException) as exc:
        raise SyncError(f"cannot read warehouse {warehouse} ({exc}): rebuild it with `defectflow build`") from exc
    return frame["line"].tolist()


def send(base_url: str, lines: list[str], token: str, scheme: str) -> list[outbound.Delivery]:
    """Each update to the tracker. A PUT of the same fields is idempotent by itself; the key makes
    a proxy's or a gateway's replay detection see one update per defect and content."""
    deliveries = []
    for line in lines:
        update = json.loads(line)
        deliveries.append(outbound.post_json(base_url.rstrip("/") + update["path"], update["body"], token=token,
                                             scheme=scheme, method="PUT",
                                             idempotency_key=f"sync-{update['key']}-{_digest(line)}"))
    return deliveries


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def run(
    warehouse: Path,
    policy: Policy,
    scope: Scope,
    out: Path | None = None,
    post_url: str | None = None,
    token_env: str = "JIRA_TOKEN",
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Dry run (payloads to `out` or stdout) unless `post_url`; 0 ok, 1 some updates not delivered, 2 error."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        token = outbound.token_from_env(token_env) if post_url else ""
        lines = payload_lines(warehouse, policy, scope)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        deliveries = send(post_url, lines, token, policy.tracker.auth_scheme) if post_url else []
    except (SyncError, outbound.OutboundError, OSError) as exc:
        print(f"sync error: {exc}", file=stderr)
        return EXIT_ERROR
    if out is None and not post_url:
        stdout.write("".join(f"{line}\n" for line in lines))
    failed = [d for d in deliveries if not d.ok]
    for delivery in failed:
        print(f"sync: not delivered: {delivery.url}: {delivery.error} after {delivery.attempts} attempt(s): "
              f"{delivery.body[:300]}", file=stderr)
    action = f"sent to {post_url}" if post_url else ("written to " + str(out) if out else "printed (dry run)")
    print(f"sync: {len(lines)} update(s) {action}" + (f", {len(failed)} not delivered" if failed else ""),
          file=stderr)
    return EXIT_UNDELIVERED if failed else EXIT_OK
