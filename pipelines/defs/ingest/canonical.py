"""The canonical model: the entities of docs/contract.md section 1 (and waivers.csv) and their columns.

Every adapter produces rows of these entities; the canonical CSV is their
lingua franca. Column names and types here are the `raw` schema's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "timestamp", "int", "float", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    required: bool = False


@dataclass(frozen=True)
class Entity:
    name: str  # also the raw table name and the canonical file stem
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # (later, earlier) timestamp pairs where later < earlier quarantines the row
    ordered: tuple[tuple[str, str], ...] = ()
    non_negative: tuple[str, ...] = ()
    # (column, largest value): counts bounded where they enter, so no model's arithmetic on
    # them can overflow (docs/contract.md, Bounds); a row beyond is quarantined.
    maximum: tuple[tuple[str, int], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _cols(spec: str, types: dict[str, ColumnType], required: set[str]) -> tuple[Column, ...]:
    return tuple(
        Column(name, types.get(name, "text"), name in required)
        for name in (part.strip() for part in spec.split(","))
    )


DEFECTS = Entity(
    "defects",
    _cols(
        "defect_id, title, description, severity, status, resolution, type, service, component, "
        "team, assignee, environment, found_in_release, fixed_in_release, created_at, resolved_at, "
        "users_affected, has_workaround, stack_trace, labels, duplicate_of, deferral_rationale, "
        "rca_link, segment, url, reporter, status_category, source_updated_at",
        {"created_at": "timestamp", "resolved_at": "timestamp", "users_affected": "int", "has_workaround": "bool",
         "source_updated_at": "timestamp"},
        {"defect_id", "title", "created_at"},
    ),
    key=("defect_id",),
    ordered=(("resolved_at", "created_at"),),
    non_negative=("users_affected",),
    maximum=(("users_affected", 10**9),),
)

DEFECT_STATUS_HISTORY = Entity(
    "defect_status_history",
    _cols(
        "defect_id, changed_at, from_status, to_status, actor, from_status_category, to_status_category",
        {"changed_at": "timestamp"},
        {"defect_id", "changed_at", "to_status"},
    ),
    key=("defect_id", "changed_at", "from_status", "to_status"),
)

DEPLOYMENTS = Entity(
    "deployments",
    _cols(
        "deployment_id, service, release, environment, segment, started_at, finished_at, status, "
        "commit_sha, is_hotfix, rollback_of, source_updated_at",
        {"started_at": "timestamp", "finished_at": "timestamp", "is_hotfix": "bool", "source_updated_at": "timestamp"},
        {"deployment_id", "service", "environment", "finished_at"},
    ),
    key=("deployment_id",),
    ordered=(("finished_at", "started_at"),),
)

INCIDENTS = Entity(
    "incidents",
    _cols(
        "incident_id, title, severity, service, environment, impact_started_at, detected_at, "
        "acknowledged_at, resolved_at, deployment_id, linked_defect_ids, postmortem_link, source_updated_at",
        {
            "source_updated_at": "timestamp",
            "impact_started_at": "timestamp",
            "detected_at": "timestamp",
            "acknowledged_at": "timestamp",
            "resolved_at": "timestamp",
        },
        {"incident_id", "detected_at"},
    ),
    key=("incident_id",),
    ordered=(("resolved_at", "detected_at"), ("acknowledged_at", "detected_at")),
)

RELEASES = Entity(
    "releases",
    _cols(
        "service, release, code_freeze_at, planned_release_at, rca_link",
        {"code_freeze_at": "timestamp", "planned_release_at": "timestamp"},
        {"service", "release"},
    ),
    key=("service", "release"),
)

COMMITS = Entity(
    "commits",
    _cols(
        "sha, branch, committed_at, author, message, files, parents",
        {"committed_at": "timestamp"},
        {"sha"},
    ),
    key=("sha",),
)

# Time-bound release-gate waivers (docs/metrics.md settled detail 10), beside policy.waivers.
WAIVERS = Entity(
    "waivers",
    _cols(
        "rule, service, release, approver, reason, expires_at",
        {"expires_at": "timestamp"},
        # a waiver nobody approved, or that never expires, is not a waiver
        {"rule", "service", "release", "approver", "expires_at"},
    ),
    key=("rule", "service", "release", "approver", "expires_at"),
)

# Beyond the six canonical CSVs: what the other adapters produce.
DEFECT_LINKS = Entity(
    "defect_links",
    _cols("defect_id, linked_defect_id, link_type", {}, {"defect_id", "linked_defect_id", "link_type"}),
    key=("defect_id", "linked_defect_id", "link_type"),
)

TEST_CASES = Entity(
    "test_cases",
    _cols(
        "run_id, case_index, suite, classname, name, status, duration_s, message, stack_trace, properties, "
        "environment, commit_sha, executed_at",
        {"case_index": "int", "duration_s": "float", "executed_at": "timestamp"},
        {"run_id", "case_index", "status"},
    ),
    key=("run_id", "case_index"),
    non_negative=("duration_s",),
    maximum=(("case_index", 10**9), ("duration_s", 10**7)),
)

COVERAGE = Entity(
    "coverage",
    _cols(
        "report_id, file, lines_valid, lines_covered, branches_valid, branches_covered, reported_at, commit_sha",
        {"lines_valid": "int", "lines_covered": "int", "branches_valid": "int", "branches_covered": "int",
         "reported_at": "timestamp"},
        {"report_id", "file", "lines_valid", "lines_covered"},
    ),
    key=("report_id", "file"),
    non_negative=("lines_valid", "lines_covered", "branches_valid", "branches_covered"),
    maximum=tuple((name, 10**9) for name in ("lines_valid", "lines_covered", "branches_valid", "branches_covered")),
)

# A migrated or second tracker's keys (docs/contract.md "Canonical CSV"): old_key's records are
# the defect new_key names, its status history merged into new_key's with its origin.
KEY_MAPPINGS = Entity(
    "key_mappings",
    _cols("old_key, new_key", {}, {"old_key", "new_key"}),
    key=("old_key",),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (DEFECTS, DEFECT_STATUS_HISTORY, DEPLOYMENTS, INCIDENTS, RELEASES, COMMITS, WAIVERS,
              DEFECT_LINKS, TEST_CASES, COVERAGE, KEY_MAPPINGS)
}


def detect_entity(header: list[str], file_stem: str) -> Entity | None:
    """Which canonical entity a CSV header describes.

    The content decides: the entity must find all its required columns in the
    header. Among those, the file name breaks ties (deployments.csv also has a
    `service` and a `release`, the releases' key), then the share of the
    header the entity explains.
    """
    columns = {h.strip().lower() for h in header}
    stem = file_stem.lower()
    candidates = [e for e in ENTITIES.values() if set(e.required) <= columns]
    if not candidates:
        # A file named for an entity, with its key but missing another required
        # column, is that entity: every row is quarantined naming the column,
        # rather than the whole file rejected as unknown.
        named = [e for e in ENTITIES.values() if stem.endswith(e.name) and set(e.key) <= columns]
        return max(named, key=lambda e: len(e.name)) if named else None
    for entity in candidates:
        if stem == entity.name or stem.endswith(entity.name):
            return entity
    return max(candidates, key=lambda e: (len(columns & set(e.column_names)), len(e.required)))
