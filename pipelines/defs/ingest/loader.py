"""Load an exports folder into the `raw` schema, set-based, losing nothing.

The ingest's orchestration. The manifest (`manifest.py`) tells which files
changed since the last build; readers (`readers.py`) recognise each changed
file and parse it, in worker processes when there is much to parse
(`workers.py`); loading (`loading.py`) streams a canonical CSV through DuckDB
and puts the parsed files of one format in batches, and the row rules
(`rules.py`) validate a batch in one SQL statement per entity, splitting it
into `raw.<entity>` (typed rows) and `raw.quarantine` (rows that break a rule,
with the reason and the original record). A file that cannot be read at all is
rejected and reported; the other files still load. The build writes the
policy and the as-of beside the data so that dbt reads exactly what the ingest
reported on.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines import progress
from pipelines.defs.ingest.crossfile import judge
from pipelines.defs.ingest.detect import CanonicalCsv
from pipelines.defs.ingest.loading import load_batch, load_csv
from pipelines.defs.ingest.manifest import (
    FileState,
    discover,
    file_sha256,
    forget,
    git_fingerprint,
    insert_rows,
    known_files,
    mask_messages,
    prepare,
    record,
    recorded_reports,
    touch,
)
from pipelines.defs.ingest.readers import ParsedFile, Read, read_git_history
from pipelines.defs.ingest.report import FileReport, LoadSummary
from pipelines.defs.ingest.rules import MACROS
from pipelines.defs.ingest.workers import read_files
from pipelines.policy import SOURCES, Policy, glob_regex, vocabulary_tables

log = logging.getLogger("defectflow")

PROGRESS_TASK = "reading exports"
# A batch of one format is loaded once it holds this many rows or files: large
# enough that a statement's fixed cost vanishes, small enough to keep memory flat
# and the progress moving.
BATCH_ROWS = 200_000
BATCH_FILES = 500


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: tuple[tuple[str, str], ...],
           rows: Sequence[tuple[Any, ...]]) -> None:
    """A policy table, created anew with its rows."""
    # SQL text: table, column names and types from the fixed lists of _write_policy; values are bound.
    con.execute("create or replace table raw." + name + " (" + ", ".join(f"{c} {t}" for c, t in columns) + ")")
    insert_rows(con, "raw." + name, [t for _, t in columns], rows)


def _write_policy(con: duckdb.DuckDBPyConnection, policy: Policy, as_of: datetime, policy_sha: str,
                  exports_dir: Path) -> None:
    _table(con, "policy_vocabulary", (("source", "varchar"), ("vocabulary", "varchar"), ("name", "varchar"),
                                      ("canonical", "varchar")), policy.vocabulary_rows())
    vocabularies = vocabulary_tables()
    _table(con, "policy_environments", (("environment", "varchar"), ("rank", "integer"),
                                        ("is_pre_release", "boolean")), vocabularies.environments)
    _table(con, "policy_statuses", (("status", "varchar"), ("is_open", "boolean")), vocabularies.statuses)
    _table(con, "policy_severities", (("severity", "varchar"), ("rank", "integer"), ("priority_factor", "double")),
           vocabularies.severities)
    _table(con, "policy_postmortem_severities", (("severity", "varchar"),),
           [(severity,) for severity in policy.postmortem_severities])
    _table(con, "policy_sources", (("source", "varchar"), ("default_environment", "varchar")),
           [(name, policy.source(name).default_environment) for name in SOURCES])
    weights = policy.priority_weights
    con.execute(
        "create or replace table raw.policy_priority_weights as select ?::double as severity, "
        "?::double as recurrence, ?::double as users, ?::double as no_workaround",
        [weights.severity, weights.recurrence, weights.users, weights.no_workaround],
    )
    # one GATE row per environment, so a gate with no severity rules still gets its rows
    gate_rows = [(env, "GATE", None, None) for env in policy.gates]
    gate_rows += [(env, "BLOCKING_SEVERITY_OPEN", sev, None)
                  for env, gate in policy.gates.items() for sev in gate.blocking_severities]
    gate_rows += [(env, "MAX_OPEN", sev, limit)
                  for env, gate in policy.gates.items() for sev, limit in gate.max_open.items()]
    _table(con, "policy_gate_rules", (("environment", "varchar"), ("rule", "varchar"), ("severity", "varchar"),
                                      ("max_open", "bigint")), gate_rows)
    con.execute("create or replace table raw.policy_gate_settings as select ?::boolean as freeze_intake, "
                "?::varchar as freeze_bar", [policy.freeze_intake, ";".join(policy.freeze_bar)])
    _table(con, "policy_waivers", (("rule", "varchar"), ("service", "varchar"), ("release", "varchar"),
                                   ("approver", "varchar"), ("reason", "varchar"), ("expires_at", "timestamptz")),
           [(w.rule, w.service, w.release, w.approver, w.reason, w.expires_at) for w in policy.waivers])
    _table(con, "policy_sla", (("severity", "varchar"), ("sla_hours", "double")), sorted(policy.sla_hours.items()))
    con.execute(
        "create or replace table raw.policy_settings as select "
        "?::double as attribution_window_hours, ?::double as escape_rate_rca_threshold, "
        "?::varchar as unmapped_severity, ?::varchar as default_defect_environment, "
        "?::varchar as default_incident_environment, ?::varchar as default_timezone, "
        "?::double as triage_hours, ?::double as coverage_gap_threshold, "
        "?::integer as version_skew_releases, ?::varchar as defect_key_pattern, "
        "?::double as duplicate_threshold, ?::integer as candidates_per_defect, "
        "?::boolean as commit_ignore_merges, ?::varchar as commit_bot_pattern",
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
            policy.commits.ignore_merges,
            policy.commits.bot_pattern,
        ],
    )
    _table(con, "policy_production_branches", (("branch", "varchar"),), [(b,) for b in policy.production_branches])
    _table(con, "policy_components", (("component", "varchar"), ("path_glob", "varchar"), ("path_regex", "varchar")),
           [(name, glob, glob_regex(glob)) for name, globs in policy.components.items() for glob in globs])
    _table(con, "policy_coverage_exclude", (("path_glob", "varchar"), ("path_regex", "varchar")),
           [(glob, glob_regex(glob)) for glob in policy.coverage_exclude])
    con.execute(
        "create or replace table raw.build_info as select ?::timestamptz as as_of, "
        "?::timestamptz as built_at, ?::varchar as policy_sha256, ?::varchar as exports_dir",
        [as_of, datetime.now(UTC), policy_sha, str(exports_dir)],
    )


@dataclass
class _Plan:
    """What this build does with each file of the folder (and the git history)."""

    read: list[FileState] = field(default_factory=list)  # new or changed files: read, in folder order
    git: FileState | None = None  # the git history, when its refs moved
    touched: list[FileState] = field(default_factory=list)  # same content, new size or time
    present: set[str] = field(default_factory=set)

    @property
    def reread(self) -> list[FileState]:
        return self.read + ([self.git] if self.git else [])


def _plan(known: dict[str, tuple[str, int, int]], files: list[Path], git: FileState | None) -> _Plan:
    plan = _Plan(present={str(path) for path in files})
    stats = [(path, path.stat()) for path in files]
    # same size and modification time: unchanged, not even hashed
    changed = [(path, stat) for path, stat in stats
               if known.get(str(path), (None, None, None))[1:] != (stat.st_size, stat.st_mtime_ns)]
    # hashlib releases the GIL: the files hash in parallel
    with ThreadPoolExecutor() as pool:
        hashes = list(pool.map(file_sha256, [path for path, _ in changed]))
    for (path, stat), sha in zip(changed, hashes, strict=True):
        state = FileState(str(path), sha, stat.st_size, stat.st_mtime_ns)
        previous = known.get(state.source)
        (plan.touched if previous and previous[0] == sha else plan.read).append(state)
    if git is not None:
        plan.present.add(git.source)
        plan.git = git if known.get(git.source, (None,))[0] != git.sha else None
    return plan


class _Batches:
    """Parsed files waiting to be loaded, one batch per format."""

    def __init__(self, con: duckdb.DuckDBPyConnection, tz: str) -> None:
        self.con, self.tz = con, tz
        self.waiting: dict[str, list[tuple[str, ParsedFile]]] = {}
        self.rows: dict[str, int] = {}

    def add(self, source: str, parsed: ParsedFile) -> list[FileReport]:
        """Queue the file; the reports of the batch it completes, if any."""
        fmt = parsed.format
        self.waiting.setdefault(fmt, []).append((source, parsed))
        self.rows[fmt] = self.rows.get(fmt, 0) + sum(rows.count for rows in parsed.tables)
        if self.rows[fmt] >= BATCH_ROWS or len(self.waiting[fmt]) >= BATCH_FILES:
            return self.load(fmt)
        return []

    def load(self, fmt: str) -> list[FileReport]:
        files = self.waiting.pop(fmt)
        self.rows.pop(fmt)
        with progress.stage(f"ingest {fmt}"):
            return load_batch(self.con, files, self.tz)

    def load_all(self) -> list[FileReport]:
        return [report for fmt in list(self.waiting) for report in self.load(fmt)]


def _load_files(con: duckdb.DuckDBPyConnection, files: list[FileState], policy: Policy) -> list[FileReport]:
    """Read and load the files; their reports, as each file would have had loaded alone."""
    tz = policy.default_timezone
    batches = _Batches(con, tz)
    reports: list[FileReport] = []
    finished: set[str] = set()

    def done(new: list[FileReport]) -> None:
        reports.extend(new)
        finished.update(report.source_file for report in new)
        _log(new)
        progress.advance(PROGRESS_TASK, len(finished), len(files))

    progress.advance(PROGRESS_TASK, 0, len(files))
    for file, read in read_files(files, policy):
        done(_load(con, batches, file, read, tz))
    done(batches.load_all())
    return reports


def _load(con: duckdb.DuckDBPyConnection, batches: _Batches, file: FileState, read: Read, tz: str) -> list[FileReport]:
    if isinstance(read, CanonicalCsv):
        with progress.stage("ingest canonical csv"):
            return [load_csv(con, Path(file.source), read, tz)]
    if isinstance(read, ParsedFile):
        return batches.add(file.source, read)
    return [read]


def _log(reports: list[FileReport]) -> None:
    for report in reports:
        log.debug("  %s: %s", report.source_file,
                  f"{report.format}, {report.entity or '-'}: {report.rows_loaded} loaded, "
                  f"{report.rows_quarantined} quarantined" if report.status == "loaded"
                  else f"{report.status.upper()} ({report.message})")


def _load_git(con: duckdb.DuckDBPyConnection, repo: Path, tz: str) -> list[FileReport]:
    read = read_git_history(repo)
    if isinstance(read, ParsedFile):
        with progress.stage("ingest git log"):
            return load_batch(con, [(f"git:{repo}", read)], tz)
    return [read]


def load_exports(
    con: duckdb.DuckDBPyConnection,
    exports_dir: Path,
    policy: Policy,
    as_of: datetime,
    policy_sha: str = "",
    git_repo: Path | None = None,
    own_files: Collection[Path] = (),
) -> LoadSummary:
    """Bring the `raw` schema in line with the exports folder, re-reading only what changed.

    A file whose path and content hash match the last build keeps its rows; a
    changed file's rows are replaced; a file gone from the folder loses its
    rows. So the result equals a full reload of the folder, and loading the
    same folder twice changes nothing. A different policy or loader version
    re-reads everything (adapters apply the policy's field mappings). Entries
    the build must not open (`discover`) are reported as skipped, never read.
    """
    con.execute(MACROS)
    con.execute("set memory_limit = '1GB'")  # DuckDB spills beyond it (default: 80% of RAM, ~11x a big CSV)
    if prepare(con, policy_sha):
        log.info("  reading every file (first build of this warehouse, or a new policy or defectflow version)")
    _write_policy(con, policy, as_of, policy_sha, exports_dir)
    with progress.stage("ingest bookkeeping"):
        known = known_files(con)
        git = FileState(f"git:{git_repo}", git_fingerprint(git_repo), 0, 0) if git_repo is not None else None
        found = discover(exports_dir, own_files)
        plan = _plan(known, found.files, git)
        removed = sorted(set(known) - plan.present)
        # a file read again loses its old rows first (also the rows of a build that stopped half-way)
        forget(con, [f.source for f in plan.reread] + removed)
        touch(con, plan.touched)
    reports = _load_files(con, plan.read, policy)
    if git_repo is not None and plan.git is not None:
        log.info("  reading git history of %s", git_repo)
        reports += _load_git(con, git_repo, policy.default_timezone)
    with progress.stage("ingest bookkeeping"):
        record(con, found.skipped + reports, plan.reread)
        mask_messages(con)
        judge(con)
    if removed:
        log.info("  %d file(s) gone from the folder since the last build: their rows were removed", len(removed))
    reread = [f.source for f in plan.reread]
    unchanged = len(plan.present) - len(reread)
    if unchanged:
        log.info("  %d file(s) unchanged since the last build: kept, not re-read", unchanged)
    return LoadSummary(files=recorded_reports(con), reread=reread, removed=removed)
