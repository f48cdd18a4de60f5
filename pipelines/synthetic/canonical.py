"""Deterministic synthetic exports in the canonical CSV format (docs/contract.md, inputs).

`generate(out_dir, scale, seed)` writes six files that look like what a real
team exports from its tracker, CD tool, pager and git, so every metric in
docs/metrics.md comes out non-trivial:

* ``releases.csv`` -- every service ships a semver release (``2.7.0``) every
  1-3 weeks inside a fixed 26-week window (2026-01-05 .. 2026-06-28), with a
  code freeze 2-4 days before the planned release date. Hotfix releases
  (``2.7.1``) are deployed but not planned, so they have no row here.
* ``deployments.csv`` -- each release flows dev -> test -> staging ->
  production (canonical environment names; segment empty before production).
  Production rolls out per service as ``full``, ``canary`` then
  ``full``, or alternating ``blue``/``green``. Some production deployments
  fail (a retry follows), some are ``rolled_back`` (a later deployment with
  ``rollback_of`` re-deploys the previous release, then a hotfix ``x.y.1``
  ships); some good releases also get a hotfix.
* ``defects.csv`` -- found in one environment of one release, created after
  that release reached the environment (about 1 % slightly before: negative
  time to detect). About 20 % leave ``found_in_release`` empty (attribution
  falls back to the latest deployment), about 2 % cannot be attributed. The
  production share of each service's non-duplicate defects is fixed per
  service between 6 % and 24 % (checkout is the bad one). About 8 % are
  duplicates of an earlier defect with the same stack trace at other line
  numbers; shared stack signatures also produce recurrences. Values use the
  raw vocabularies of the source tools (``Blocker``, ``P2``, ``prod``,
  ``stg``, ``To Do`` ...), mixed per team and service, including a few values
  no policy knows. Descriptions carry e-mail addresses, IPs and people's
  names for the masking step.
* ``defect_status_history.csv`` -- the transitions behind each defect's
  current status (some defects have none); the resolving transition is at
  ``resolved_at``; about 5 % of fixed defects are reopened once.
* ``incidents.csv`` -- about one per eight defects, mostly caused by a
  production deployment (every rolled-back one has one), a quarter without
  ``deployment_id`` but inside the 168 h window, a few unattributable.
* ``commits.csv`` -- release commits (their sha is the deployments'
  ``commit_sha``), fix commits naming defect keys, and unlinked work.

Timestamps are ISO-8601, mostly UTC ``Z``; about 10 % of values carry another
offset and 3 % none (naive, UTC wall time), drawn per value. Everything is at or before
``SAMPLE_AS_OF`` except a few defects created just after it.

Row counts grow linearly with ``scale``: about 300 defects and 6 services per
unit. More scale means more services, never denser releases. Everything is
vectorised with numpy (loops run over a fixed number of steps, never over
rows), and one ``numpy.random.default_rng(seed)`` drives every draw, so the
same ``(scale, seed)`` gives byte-identical files.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from pipelines.synthetic.arrays import STR, Table
from pipelines.synthetic.commits import commit_rows
from pipelines.synthetic.defect_rows import defect_rows
from pipelines.synthetic.defects import make_defects
from pipelines.synthetic.delivery import (
    deployment_rows,
    make_deployments,
    make_releases,
    release_pool,
    release_rows,
)
from pipelines.synthetic.incidents import incident_rows
from pipelines.synthetic.organisation import make_people, make_services
from pipelines.synthetic.status_history import history_rows

FILE_COLUMNS: dict[str, tuple[str, ...]] = {
    "defects.csv": (
        "defect_id", "title", "description", "severity", "status", "resolution", "type",
        "service", "component", "team", "assignee", "environment", "found_in_release",
        "fixed_in_release", "created_at", "resolved_at", "users_affected", "has_workaround",
        "stack_trace", "labels", "duplicate_of", "deferral_rationale", "rca_link", "segment", "url",
    ),
    "defect_status_history.csv": ("defect_id", "changed_at", "from_status", "to_status", "actor"),
    "deployments.csv": (
        "deployment_id", "service", "release", "environment", "segment", "started_at",
        "finished_at", "status", "commit_sha", "is_hotfix", "rollback_of",
    ),
    "incidents.csv": (
        "incident_id", "title", "severity", "service", "environment", "impact_started_at",
        "detected_at", "acknowledged_at", "resolved_at", "deployment_id", "linked_defect_ids",
        "postmortem_link",
    ),
    "releases.csv": ("service", "release", "code_freeze_at", "planned_release_at", "rca_link"),
    "commits.csv": ("sha", "branch", "committed_at", "author", "message", "files"),
}

WRITE_CHUNK_ROWS = 200_000  # bounds the Python string objects alive while writing


def _write(name: str, table: Table, out_dir: pathlib.Path) -> int:
    """Write one canonical CSV (RFC 4180 quoting, UTF-8, LF line ends on every platform); return its rows."""
    if tuple(table) != FILE_COLUMNS[name]:
        raise AssertionError(f"{name}: columns {tuple(table)} differ from the contract")
    n = len(next(iter(table.values())))
    with open(out_dir / name, "w", encoding="utf-8", newline="") as handle:
        for lo in range(0, max(n, 1), WRITE_CHUNK_ROWS):
            rows = slice(lo, lo + WRITE_CHUNK_ROWS)
            chunk = pd.DataFrame({col: np.asarray(v[rows], dtype=STR).astype(object) for col, v in table.items()})
            chunk.to_csv(handle, index=False, header=lo == 0, lineterminator="\n")
    return n


def generate(out_dir: pathlib.Path, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Write the six canonical CSV exports into ``out_dir``; return {file name: data rows}."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    rng = np.random.default_rng(seed)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    svc = make_services(rng, scale)
    people, emails = make_people(rng, int(svc["team"].max()) + 1)
    rel = make_releases(rng, svc)
    dep = make_deployments(rng, svc, rel)
    pool = release_pool(dep)
    n_defects = max(5, round(300 * scale))
    d = make_defects(rng, svc, pool, people, n_defects)

    # One file at a time, so only one file's text is in memory at large scale.
    counts = {"releases.csv": _write("releases.csv", release_rows(rng, svc, rel), out_dir)}
    counts["deployments.csv"] = _write("deployments.csv", deployment_rows(rng, svc, dep), out_dir)
    counts["defects.csv"] = _write("defects.csv", defect_rows(rng, d, svc, rel, emails), out_dir)
    counts["defect_status_history.csv"] = _write("defect_status_history.csv", history_rows(rng, d, people), out_dir)
    n_incidents = max(1, round(n_defects / 8))
    counts["incidents.csv"] = _write("incidents.csv", incident_rows(rng, svc, dep, d, n_incidents), out_dir)
    counts["commits.csv"] = _write("commits.csv", commit_rows(rng, svc, rel, dep, d, people), out_dir)
    return {name: counts[name] for name in FILE_COLUMNS}
