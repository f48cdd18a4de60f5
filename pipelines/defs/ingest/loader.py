"""Load an exports folder into the `raw` schema, set-based, losing nothing.

Each file is read by DuckDB as text, validated in one SQL statement per file,
and split into `raw.<entity>` (typed rows) and `raw.quarantine` (rows that
break a rule, with the reason and the original record). A file that cannot be
read at all is rejected and reported; the other files still load. The build
writes the policy and the as-of beside the data so that dbt reads exactly
what the ingest reported on.

SQL identifiers below (table and column names) come from the fixed entity
specs in `canonical.py`, never from user input; values are bound parameters.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.defs.ingest.adapters.base import FormatError, ParseContext, Parsed
from pipelines.defs.ingest.canonical import ENTITIES, Entity
from pipelines.defs.ingest.detect import AdapterInput, CanonicalCsv, Rejected, detect, is_documentation, scan
from pipelines.defs.ingest.adapters.git import read_git
from pipelines.policy import SOURCES, Policy, glob_regex, vocabulary_tables

log = logging.getLogger("defectflow")

EARLIEST = "1990-01-01 00:00:00+00"
LATEST = "2101-01-01 00:00:00+00"  # "after 2100" means from 2101 on

# Timestamp parsing, once, for every adapter: ISO-8601 with an offset is an
# instant; without one it is a wall-clock time in the policy's zone. A wall
# time that does not exist there (DST gap) is rejected; an ambiguous one
# (DST fold) takes the earlier instant (METRICS.md settled detail 13).
_MACROS = r"""
create or replace temp macro df_text(s) as nullif(trim(s), '');
create or replace temp macro df_has_offset(s) as
    regexp_matches(trim(s), '[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+-]\d{2}(:?\d{2})?)$');
create or replace temp macro df_local(s) as try_cast(trim(s) as timestamp);
create or replace temp macro df_from_local(l, tz) as
    case when timezone(tz, timezone(tz, l) - interval 1 hour) = l
         then timezone(tz, l) - interval 1 hour else timezone(tz, l) end;
create or replace temp macro df_ts(s, tz) as
    case when df_text(s) is null then null
         when df_has_offset(s) then try_cast(trim(s) as timestamptz)
         else df_from_local(df_local(s), tz) end;
create or replace temp macro df_ts_gap(s, tz) as
    df_text(s) is not null and not df_has_offset(s) and df_local(s) is not null
    and timezone(tz, timezone(tz, df_local(s))) <> df_local(s);
create or replace temp macro df_is_naive(s) as
    df_text(s) is not null and not df_has_offset(s) and df_local(s) is not null;
create or replace temp macro df_bool(s) as
    case when lower(trim(s)) in ('true', 't', 'yes', 'y', '1') then true
         when lower(trim(s)) in ('false', 'f', 'no', 'n', '0') then false end;
"""

_BOOKKEEPING = """
create schema if not exists raw;
create or replace table raw.load_report (
    source_file varchar, entity varchar, format varchar, content_sha256 varchar,
    status varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint,
    naive_timestamps bigint, message varchar
);
create or replace table raw.quarantine (
    source_file varchar, row_number bigint, entity varchar, reason varchar, raw_record json
);
create or replace table raw.ingested_files (
    source_file varchar primary key, content_sha256 varchar, size_bytes bigint, mtime_ns bigint
);
create or replace table raw.ingest_state (state_key varchar);
"""

_SQL_TYPES = {"text": "varchar", "timestamp": "timestamptz", "int": "bigint", "float": "double", "bool": "boolean"}
# Bump when the raw tables or what an adapter emits change: the next build re-reads everything.
LOADER_VERSION = "4"
# Adapters hold a whole document in memory; a canonical CSV streams at any size.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024


@dataclass
class FileReport:
    source_file: str
    entity: str | None
    format: str
    status: str  # loaded | rejected | skipped
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    naive_timestamps: int = 0
    message: str = ""


@dataclass
class LoadSummary:
    files: list[FileReport]  # every file of the folder, this build's and the unchanged ones
    reread: list[str] = field(default_factory=list)  # files read in this build
    removed: list[str] = field(default_factory=list)  # files gone from the folder since the last build

    @property
    def rejected_files(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)


def _create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    for entity in ENTITIES.values():
        # SQL text: identifiers from the fixed canonical entity list (canonical.py); values are bound.
        cols = ", ".join(f"{c.name} {_SQL_TYPES[c.type]}" for c in entity.columns)
        con.execute(
            f"create or replace table raw.{entity.name} ("
            f"{cols}, source_file varchar, source_row bigint, source_system varchar)"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# A kept row's record number when DuckDB skipped malformed records before it.
_NUMBER_PAST_MALFORMED = "rowid + 1 + (select count(*) from _malformed where rec - j < _raw_csv.rowid + 1)"


def _typed(column, present: bool) -> str:
    if not present:
        return f"cast(null as {_SQL_TYPES[column.type]})"
    name = column.name
    return {
        "text": f"df_text({name})",
        "timestamp": f"{name}__ts",  # parsed once, in the `parsed` step of _check_and_insert
        "int": f"try_cast(trim({name}) as bigint)",
        "float": f"try_cast(trim({name}) as double)",
        "bool": f"df_bool({name})",
    }[column.type]


def _problems(entity: Entity, present: set[str]) -> list[str]:
    """SQL expressions, one per rule, each NULL or the reason the row breaks it."""
    checks: list[str] = []
    for column in entity.columns:
        name = column.name
        if column.required and name not in present:
            checks.append(f"'{name} is required'")
        if name not in present:
            continue
        if column.required:
            checks.append(f"case when df_text({name}) is null then '{name} is required' end")
        if column.type == "timestamp":
            checks.append(
                f"case when df_text({name}) is not null and df_ts_gap({name}, $tz) "
                f"then '{name}: local time ' || trim({name}) || ' does not exist in ' || $tz "
                f"|| ' (daylight-saving gap)' "
                f"when df_text({name}) is not null and {name}__ts is null "
                f"then '{name}: not an ISO-8601 timestamp: ' || trim({name}) "
                f"when {name}__ts < timestamptz '{EARLIEST}' "
                f"or {name}__ts >= timestamptz '{LATEST}' "
                f"then '{name}: ' || trim({name}) || ' is before 1990 or after 2100' end"
            )
        elif column.type in ("int", "float"):
            cast = "bigint" if column.type == "int" else "double"
            checks.append(
                f"case when df_text({name}) is not null and try_cast(trim({name}) as {cast}) is null "
                f"then '{name}: not a number: ' || trim({name}) end"
            )
        elif column.type == "bool":
            checks.append(
                f"case when df_text({name}) is not null and df_bool({name}) is null "
                f"then '{name}: not true/false: ' || trim({name}) end"
            )
    for name in entity.non_negative:
        if name in present:
            checks.append(f"case when try_cast(trim({name}) as double) < 0 then '{name} is negative' end")
    for later, earlier in entity.ordered:
        if later in present and earlier in present:
            checks.append(f"case when {later}__ts < {earlier}__ts then '{later} is before {earlier}' end")
    return checks


def _check_and_insert(
    con: duckdb.DuckDBPyConnection, source: str, entity: Entity, present: set[str], tz: str,
    source_system: str, raw_records: str, extra_reason: bool = False,
) -> tuple[int, int, int]:
    """Validate `_src` (source_row and canonical text columns) into raw + quarantine.

    The bookkeeping columns are `_df_`-prefixed: an entity may have a column
    called `reason` (waivers) and must not collide with them.

    `raw_records` is a query giving (source_row, raw_record): the original
    record, built only for the rows that are quarantined. Returns (loaded,
    quarantined, naive timestamps among the loaded rows).
    """
    # SQL text: identifiers from the fixed canonical entity list (canonical.py); values are bound.
    problems = (["_reason"] if extra_reason else []) + _problems(entity, present)
    problems = problems or ["cast(null as varchar)"]
    typed = ", ".join(f"{_typed(c, c.name in present)} as {c.name}" for c in entity.columns)
    stamps = [c.name for c in entity.columns if c.type == "timestamp" and c.name in present]
    parsed = "".join(f", df_ts({name}, $tz) as {name}__ts" for name in stamps)
    naive = " + ".join(f"df_is_naive({name})::int" for name in stamps) or "0"
    key = ", ".join(entity.key)
    con.execute(
        f"""
        create or replace temp table _checked as
        with parsed as (
            -- $tz is bound for every file; a file without timestamps must still use it
            select *{parsed}, $tz as _tz from _src
        ),
        checked as (
            select *, nullif(concat_ws('; ', {", ".join(problems)}), '') as _df_reason, {naive} as _df_naive
            from parsed
        ),
        typed as (
            select source_row, _df_reason, _df_naive, {typed} from checked
        ),
        keyed as (
            select typed.*,
                min(source_row) filter (where _df_reason is null) over (partition by {key}) as _df_first_row
            from typed
        )
        select keyed.* replace (
            coalesce(_df_reason,
                case when source_row > _df_first_row
                     then 'duplicate key ({key}) of row ' || _df_first_row || ' in the same file' end
            ) as _df_reason
        )
        from keyed
        """,
        {"tz": tz},
    )
    # SQL text: identifiers from the fixed canonical entity list (canonical.py); values are bound.
    columns = ", ".join(entity.column_names)
    con.execute(
        f"insert into raw.{entity.name} select {columns}, ?, source_row, ? from _checked where _df_reason is null",
        [source, source_system],
    )
    con.execute(
        f"insert into raw.quarantine select ?, c.source_row, ?, c._df_reason, r.raw_record from _checked as c "
        f"inner join ({raw_records}) as r using (source_row) where c._df_reason is not null order by c.source_row",
        [source, entity.name],
    )
    loaded, quarantined, naive_count = con.execute(
        "select count(*) filter (where _df_reason is null), count(*) filter (where _df_reason is not null), "
        "coalesce(sum(_df_naive) filter (where _df_reason is null), 0) from _checked"
    ).fetchall()[0]
    return loaded, quarantined, int(naive_count)


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, found: CanonicalCsv, tz: str) -> FileReport:
    source = str(path)
    entity = found.entity
    con.execute(
        "create or replace temp table _raw_csv as select * from read_csv(?, all_varchar = true, "
        "header = true, encoding = ?, store_rejects = true, rejects_table = '_rejects', rejects_scan = '_scans')",
        [source, found.encoding],
    )
    # DuckDB lower-cases nothing: match the header case-insensitively to the spec.
    actual = {h.lower(): h for h in con.execute("select * from _raw_csv limit 0").fetch_df().columns}
    present = {c.name for c in entity.columns if c.name in actual}
    # Rows are numbered by their place among all data records (header excluded),
    # malformed ones included: DuckDB keeps the good rows in order, so a kept row's
    # number is its position plus the malformed records before it.
    con.execute("create or replace temp table _malformed as select line - 1 as rec, "
                "row_number() over (order by line) as j from (select distinct line from _rejects)")
    malformed = con.execute("select count(*) from _malformed").fetchall()[0][0]
    number = duckdb.SQLExpression(_NUMBER_PAST_MALFORMED if malformed else "rowid + 1").alias("source_row")
    # The header's columns are selected by the relation API, so the user's header text
    # never becomes SQL text.
    raw_csv = con.table("_raw_csv")
    con.register("_src", raw_csv.select(
        number, *(duckdb.ColumnExpression(actual[c]).alias(c) for c in sorted(present))))
    con.register("_src_records", raw_csv.select(
        number, duckdb.SQLExpression("to_json(_raw_csv)").alias("raw_record")))
    try:
        loaded, quarantined, naive = _check_and_insert(
            con, source, entity, present, tz, "canonical", raw_records="select * from _src_records",
        )
    finally:
        con.unregister("_src")
        con.unregister("_src_records")
    con.execute(
        "insert into raw.quarantine select ?, line - 1, ?, "
        "'malformed CSV row (' || error_type || '): ' || error_message, "
        "to_json(struct_pack(csv_line := csv_line)) from ("
        # one reject row per bad line (DuckDB may log a line once per error found in it)
        "select line, any_value(error_type) as error_type, any_value(error_message) as error_message, "
        "any_value(csv_line) as csv_line from _rejects group by line) order by line",
        [source, entity.name],
    )
    con.execute("drop table if exists _rejects; drop table if exists _scans; "
                "drop table if exists _raw_csv; drop table if exists _malformed")
    missing = [c.name for c in entity.columns if c.name not in present and c.required]
    extra = [h for h in found.header if h.strip().lower() not in set(entity.column_names)]
    notes = []
    if missing:
        notes.append(f"required columns missing (every row quarantined): {', '.join(missing)}")
    if extra:
        notes.append(f"ignored columns: {', '.join(extra)}")
    return FileReport(
        source_file=source,
        entity=entity.name,
        format="canonical csv",
        status="loaded",
        rows_read=loaded + quarantined + malformed,
        rows_loaded=loaded,
        rows_quarantined=quarantined + malformed,
        naive_timestamps=naive,
        message="; ".join(notes),
    )


def load_rows(
    con: duckdb.DuckDBPyConnection, source: str, entity: Entity, rows: list[dict], fmt: str,
    source_system: str, tz: str, notes: list[str] = (),
) -> FileReport:
    """Validate an adapter's rows for one entity into raw + quarantine, exactly as a canonical CSV."""
    names = [c.name for c in entity.columns if any(row.get(c.name) not in (None, "") for row in rows)]
    has_reason = any(row.get("_reason") for row in rows)
    columns = {
        name: pd.Series([None if row.get(name) is None else str(row[name]) for row in rows], dtype=object)
        for name in [*names, *(["_reason"] if has_reason else [])]
    }
    frame = pd.DataFrame(columns, index=range(len(rows)))
    frame.insert(0, "source_row", range(1, len(rows) + 1))
    con.register("_adapter_rows", frame)
    # SQL text: identifiers from the fixed canonical entity list (canonical.py); values are bound.
    casts = "".join(f', cast("{n}" as varchar) as "{n}"' for n in columns)
    canonical = ", ".join(f"'{n}', cast(\"{n}\" as varchar)" for n in names) or "'source_row', source_row"
    con.execute(
        f"create or replace temp table _src as select source_row, json_object({canonical}) as raw_record"
        f"{casts} from _adapter_rows"
    )
    con.unregister("_adapter_rows")
    loaded, quarantined, naive = _check_and_insert(
        con, source, entity, set(names), tz, source_system,
        raw_records="select source_row, raw_record from _src", extra_reason=has_reason,
    )
    con.execute("drop table _src")
    return FileReport(source, entity.name, fmt, "loaded", len(rows), loaded, quarantined, naive, "; ".join(notes))


def _parse(path: Path, found: AdapterInput, policy: Policy, sha: str) -> Parsed:
    adapter = found.adapter
    ctx = ParseContext(path=path, policy=policy, mapping=policy.source(adapter.SOURCE), content_sha256=sha)
    return adapter.parse(found.doc, ctx)


def _load_file(con: duckdb.DuckDBPyConnection, path: Path, policy: Policy, sha: str) -> list[FileReport]:
    source = str(path)
    tz = policy.default_timezone
    if is_documentation(path):
        return [FileReport(source, None, "documentation", "skipped", message="documentation, not an export")]
    fmt = "unknown"
    try:
        encoding = scan(path)
        found = detect(path, encoding, max_document_bytes=MAX_DOCUMENT_BYTES)
        if isinstance(found, CanonicalCsv):
            fmt = "canonical csv"
            return [_load_csv(con, path, found, tz)]
        fmt = found.adapter.NAME
        parsed = _parse(path, found, policy, sha)
    except Rejected as exc:
        return [FileReport(source, None, exc.format, "rejected", message=str(exc))]
    except FormatError as exc:
        return [FileReport(source, None, fmt, "rejected", message=str(exc))]
    except duckdb.Error as exc:
        con.execute("drop table if exists _rejects; drop table if exists _scans")
        first_line = str(exc).strip().splitlines()[0]
        return [FileReport(source, None, fmt, "rejected", message=f"cannot be read: {first_line}")]
    except Exception as exc:  # an adapter meeting input it does not expect must not stop the other files
        log.debug("adapter %s failed on %s", fmt, source, exc_info=True)
        return [FileReport(source, None, fmt, "rejected",
                           message=f"the {fmt} adapter could not read it: {type(exc).__name__}: {exc}")]
    notes = list(parsed.notes)
    reports = [
        load_rows(con, source, ENTITIES[name], rows, fmt, found.adapter.SOURCE, tz, notes if i == 0 else ())
        for i, (name, rows) in enumerate(parsed.tables.items())
    ]
    return reports or [FileReport(source, None, fmt, "loaded", message="; ".join(notes) or "no records")]


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
        [as_of, datetime.now(timezone.utc), policy_sha, str(exports_dir)],
    )


def discover(exports_dir: Path) -> list[Path]:
    """Every file below the exports folder, in a stable order (hidden files skipped)."""
    if not exports_dir.is_dir():
        raise FileNotFoundError(f"exports folder {exports_dir} does not exist")
    return sorted(
        p for p in exports_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(exports_dir).parts)
    )


# Table names from the fixed entity and bookkeeping lists; the file name is bound.
_FORGET_SQL = tuple("delete from raw." + name + " where source_file = ?"
                    for name in (*ENTITIES, "quarantine", "load_report", "ingested_files"))


def _forget(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Remove every row an earlier build loaded from `source`."""
    for sql in _FORGET_SQL:
        con.execute(sql, [source])


def _record(con: duckdb.DuckDBPyConnection, reports: list[FileReport], sha: str, size: int, mtime_ns: int) -> None:
    for report in reports:
        con.execute(
            "insert into raw.load_report values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [report.source_file, report.entity, report.format, sha, report.status, report.rows_read,
             report.rows_loaded, report.rows_quarantined, report.naive_timestamps, report.message],
        )
    con.execute("insert into raw.ingested_files values (?, ?, ?, ?)", [reports[0].source_file, sha, size, mtime_ns])


def _prepare(con: duckdb.DuckDBPyConnection, state_key: str) -> bool:
    """Keep the raw tables when they were loaded by this loader version and policy; else start over.

    Returns whether everything must be re-read.
    """
    con.execute("create schema if not exists raw")
    tables = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    if "ingest_state" in tables:
        rows = con.execute("select state_key from raw.ingest_state").fetchall()
        if rows and rows[0][0] == state_key:
            return False
    con.execute(_BOOKKEEPING)
    _create_raw_tables(con)
    con.execute("insert into raw.ingest_state values (?)", [state_key])
    return True


def _git_fingerprint(repo: Path) -> str:
    """What identifies the repository's history: its refs (one cheap `git` call)."""
    import subprocess

    result = subprocess.run(["git", "-C", str(repo), "show-ref", "--head"], capture_output=True, text=True)
    return hashlib.sha256(result.stdout.encode()).hexdigest()


def _load_git(con: duckdb.DuckDBPyConnection, repo: Path, policy: Policy) -> list[FileReport]:
    source = f"git:{repo}"
    try:
        parsed = read_git(repo)
    except FormatError as exc:
        return [FileReport(source, None, "git log", "rejected", message=str(exc))]
    return [
        load_rows(con, source, ENTITIES[name], rows, "git log", "git", policy.default_timezone, parsed.notes)
        for name, rows in parsed.tables.items()
    ] or [FileReport(source, None, "git log", "loaded", message="no commits")]


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
    con.execute(_MACROS)
    con.execute("set memory_limit = '1GB'")  # DuckDB spills beyond it (default: 80% of RAM, ~11x a big CSV)
    state_key = hashlib.sha256(f"{LOADER_VERSION}:{policy_sha}".encode()).hexdigest()
    if _prepare(con, state_key):
        log.info("  reading every file (first build of this warehouse, or a new policy or defectflow version)")
    _write_policy(con, policy, as_of, policy_sha, exports_dir)
    known = {row[0]: row[1:] for row in con.execute(
        "select source_file, content_sha256, size_bytes, mtime_ns from raw.ingested_files").fetchall()}
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
        sha = _sha256(path)
        if previous and previous[0] == sha:
            con.execute("update raw.ingested_files set size_bytes = ?, mtime_ns = ? where source_file = ?",
                        [stat.st_size, stat.st_mtime_ns, source])
            continue
        _forget(con, source)
        reports = _load_file(con, path, policy, sha)
        _record(con, reports, sha, stat.st_size, stat.st_mtime_ns)
        reread.append(source)
        for report in reports:
            log.info("  [%d/%d] %s: %s", index, len(files), path.name,
                     f"{report.format}, {report.entity or '-'}: {report.rows_loaded} loaded, "
                     f"{report.rows_quarantined} quarantined" if report.status == "loaded"
                     else f"{report.status.upper()} ({report.message})")
    if git_repo is not None:
        source = f"git:{git_repo}"
        present.add(source)
        fingerprint = _git_fingerprint(git_repo)
        if known.get(source, (None,))[0] != fingerprint:
            _forget(con, source)
            log.info("  reading git history of %s", git_repo)
            _record(con, _load_git(con, git_repo, policy), fingerprint, 0, 0)
            reread.append(source)
    removed = sorted(set(known) - present)
    for source in removed:
        _forget(con, source)
    if removed:
        log.info("  %d file(s) gone from the folder since the last build: their rows were removed", len(removed))
    unchanged = len(present) - len(reread)
    if unchanged:
        log.info("  %d file(s) unchanged since the last build: kept, not re-read", unchanged)
    reports = [FileReport(*row) for row in con.execute(
        "select source_file, entity, format, status, rows_read, rows_loaded, rows_quarantined, "
        "naive_timestamps, message from raw.load_report order by source_file, entity").fetchall()]
    return LoadSummary(files=reports, reread=reread, removed=removed)


def policy_fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
