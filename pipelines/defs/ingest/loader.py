"""Load an exports folder into the `raw` schema, set-based, losing nothing.

The ingest's orchestration. The manifest (`manifest.py`) tells which files
changed since the last build; a reader (`readers.py`) reads each changed file
as text, and the row rules (`rules.py`) validate it in one SQL statement and
split it into `raw.<entity>` (typed rows) and `raw.quarantine` (rows that
break a rule, with the reason and the original record). A file that cannot be
read at all is rejected and reported; the other files still load. The build
writes the policy and the as-of beside the data so that dbt reads exactly
what the ingest reported on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.defs.ingest.manifest import (
    discover,
    file_sha256,
    forget,
    git_fingerprint,
    known_files,
    prepare,
    record,
    recorded_reports,
    touch,
)
from pipelines.defs.ingest.readers import load_file, load_git
from pipelines.defs.ingest.report import LoadSummary
from pipelines.defs.ingest.rules import MACROS
from pipelines.policy import SOURCES, Policy, glob_regex, vocabulary_tables

log = logging.getLogger("defectflow")


def _write_policy(con: duckdb.DuckDBPyConnection, policy: Policy, as_of: datetime, policy_sha: str,
                  exports_dir: Path) -> None:
    con.execute("create or replace table raw.policy_vocabulary "
                "(source varchar, vocabulary varchar, name varchar, canonical varchar)")
    con.executemany("insert into raw.policy_vocabulary values (?, ?, ?, ?)", policy.vocabulary_rows())
    vocabularies = vocabulary_tables()
    con.execute("create or replace table raw.policy_environments "
                "(environment varchar, rank integer, is_pre_release boolean)")
    con.executemany("insert into raw.policy_environments values (?, ?, ?)", vocabularies.environments)
    con.execute("create or replace table raw.policy_statuses (status varchar, is_open boolean)")
    con.executemany("insert into raw.policy_statuses values (?, ?)", vocabularies.statuses)
    con.execute("create or replace table raw.policy_severities "
                "(severity varchar, rank integer, priority_factor double)")
    con.executemany("insert into raw.policy_severities values (?, ?, ?)", vocabularies.severities)
    con.execute("create or replace table raw.policy_postmortem_severities (severity varchar)")
    if policy.postmortem_severities:
        con.executemany("insert into raw.policy_postmortem_severities values (?)",
                        [(severity,) for severity in policy.postmortem_severities])
    con.execute("create or replace table raw.policy_sources (source varchar, default_environment varchar)")
    con.executemany("insert into raw.policy_sources values (?, ?)",
                    [(name, policy.source(name).default_environment) for name in SOURCES])
    weights = policy.priority_weights
    con.execute(
        "create or replace table raw.policy_priority_weights as select ?::double as severity, "
        "?::double as recurrence, ?::double as users, ?::double as no_workaround",
        [weights.severity, weights.recurrence, weights.users, weights.no_workaround],
    )
    con.execute("create or replace table raw.policy_gate_rules "
                "(environment varchar, rule varchar, severity varchar, max_open bigint)")
    # one GATE row per environment, so a gate with no severity rules still gets its rows
    gate_rows = [(env, "GATE", None, None) for env in policy.gates]
    gate_rows += [(env, "BLOCKING_SEVERITY_OPEN", sev, None)
                  for env, gate in policy.gates.items() for sev in gate.blocking_severities]
    gate_rows += [(env, "MAX_OPEN", sev, limit)
                  for env, gate in policy.gates.items() for sev, limit in gate.max_open.items()]
    if gate_rows:
        con.executemany("insert into raw.policy_gate_rules values (?, ?, ?, ?)", gate_rows)
    con.execute("create or replace table raw.policy_gate_settings as select ?::boolean as freeze_intake, "
                "?::varchar as freeze_bar", [policy.freeze_intake, ";".join(policy.freeze_bar)])
    con.execute("create or replace table raw.policy_waivers (rule varchar, service varchar, release varchar, "
                "approver varchar, reason varchar, expires_at timestamptz)")
    if policy.waivers:
        con.executemany("insert into raw.policy_waivers values (?, ?, ?, ?, ?, ?)",
                        [(w.rule, w.service, w.release, w.approver, w.reason, w.expires_at) for w in policy.waivers])
    con.execute("create or replace table raw.policy_sla (severity varchar, sla_hours double)")
    con.executemany("insert into raw.policy_sla values (?, ?)", sorted(policy.sla_hours.items()))
    con.execute(
        "create or replace table raw.policy_settings as select "
        "?::double as attribution_window_hours, ?::double as escape_rate_rca_threshold, "
        "?::varchar as unmapped_severity, ?::varchar as default_defect_environment, "
        "?::varchar as default_incident_environment, ?::varchar as default_timezone, "
        "?::double as triage_hours, ?::double as coverage_gap_threshold, "
        "?::integer as version_skew_releases, ?::varchar as defect_key_pattern, "
        "?::double as duplicate_threshold, ?::integer as candidates_per_defect",
        [
            policy.attribution_window_hours,
            policy.escape_rate_rca_threshold,
            policy.unmapped_severity,
            policy.default_environment.get("defects", "unknown"),
            policy.default_environment.get("incidents", "production"),
            policy.default_timezone,
            policy.triage_hours,
            policy.coverage_gap_threshold,
            policy.version_skew_releases,
            policy.defect_key_pattern,
            policy.duplicate_threshold,
            policy.candidates_per_defect,
        ],
    )
    con.execute("create or replace table raw.policy_production_branches (branch varchar)")
    con.executemany("insert into raw.policy_production_branches values (?)",
                    [(b,) for b in policy.production_branches])
    con.execute("create or replace table raw.policy_components "
                "(component varchar, path_glob varchar, path_regex varchar)")
    component_rows = [(name, glob, glob_regex(glob)) for name, globs in policy.components.items() for glob in globs]
    if component_rows:
        con.executemany("insert into raw.policy_components values (?, ?, ?)", component_rows)
    con.execute("create or replace table raw.policy_coverage_exclude (path_glob varchar, path_regex varchar)")
    if policy.coverage_exclude:
        con.executemany("insert into raw.policy_coverage_exclude values (?, ?)",
                        [(glob, glob_regex(glob)) for glob in policy.coverage_exclude])
    con.execute(
        "create or replace table raw.build_info as select ?::timestamptz as as_of, "
        "?::timestamptz as built_at, ?::varchar as policy_sha256, ?::varchar as exports_dir",
        [as_of, datetime.now(UTC), policy_sha, str(exports_dir)],
    )


def load_exports(
    con: duckdb.DuckDBPyConnection,
    exports_dir: Path,
    policy: Policy,
    as_of: datetime,
    policy_sha: str = "",
    git_repo: Path | None = None,
) -> LoadSummary:
    """Bring the `raw` schema in line with the exports folder, re-reading only what changed.

    A file whose path and content hash match the last build keeps its rows; a
    changed file's rows are replaced; a file gone from the folder loses its
    rows. So the result equals a full reload of the folder, and loading the
    same folder twice changes nothing. A different policy or loader version
    re-reads everything (adapters apply the policy's field mappings).
    """
    con.execute(MACROS)
    con.execute("set memory_limit = '1GB'")  # DuckDB spills beyond it (default: 80% of RAM, ~11x a big CSV)
    if prepare(con, policy_sha):
        log.info("  reading every file (first build of this warehouse, or a new policy or defectflow version)")
    _write_policy(con, policy, as_of, policy_sha, exports_dir)
    known = known_files(con)
    files = discover(exports_dir)
    present: set[str] = set()
    reread: list[str] = []
    for index, path in enumerate(files, 1):
        source = str(path)
        present.add(source)
        stat = path.stat()
        previous = known.get(source)
        if previous and (previous[1], previous[2]) == (stat.st_size, stat.st_mtime_ns):
            continue  # same size and modification time: unchanged, not even hashed
        sha = file_sha256(path)
        if previous and previous[0] == sha:
            touch(con, source, stat.st_size, stat.st_mtime_ns)
            continue
        forget(con, source)
        reports = load_file(con, path, policy, sha)
        record(con, reports, sha, stat.st_size, stat.st_mtime_ns)
        reread.append(source)
        for report in reports:
            log.info("  [%d/%d] %s: %s", index, len(files), path.name,
                     f"{report.format}, {report.entity or '-'}: {report.rows_loaded} loaded, "
                     f"{report.rows_quarantined} quarantined" if report.status == "loaded"
                     else f"{report.status.upper()} ({report.message})")
    if git_repo is not None:
        source = f"git:{git_repo}"
        present.add(source)
        fingerprint = git_fingerprint(git_repo)
        if known.get(source, (None,))[0] != fingerprint:
            forget(con, source)
            log.info("  reading git history of %s", git_repo)
            record(con, load_git(con, git_repo, policy), fingerprint, 0, 0)
            reread.append(source)
    removed = sorted(set(known) - present)
    for source in removed:
        forget(con, source)
    if removed:
        log.info("  %d file(s) gone from the folder since the last build: their rows were removed", len(removed))
    unchanged = len(present) - len(reread)
    if unchanged:
        log.info("  %d file(s) unchanged since the last build: kept, not re-read", unchanged)
    return LoadSummary(files=recorded_reports(con), reread=reread, removed=removed)
