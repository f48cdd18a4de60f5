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

import csv
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from pipelines.defs.ingest.canonical import ENTITIES, Entity, detect_entity
from pipelines.policy import Policy

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
create or replace temp macro df_match_key(s) as regexp_replace(lower(s), '[^\p{L}\p{N}]+', '', 'g');
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
"""

_SQL_TYPES = {"text": "varchar", "timestamp": "timestamptz", "int": "bigint", "bool": "boolean"}


@dataclass
class FileReport:
    source_file: str
    entity: str | None
    format: str
    status: str  # loaded | rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    naive_timestamps: int = 0
    message: str = ""


@dataclass
class LoadSummary:
    files: list[FileReport]
    unmapped: list[tuple[str, str, str, int, str]]  # entity, field, raw value, rows, mapped to

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
        cols = ", ".join(f"{c.name} {_SQL_TYPES[c.type]}" for c in entity.columns)
        con.execute(
            f"create or replace table raw.{entity.name} ("
            f"{cols}, source_file varchar, source_row bigint)"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def _typed(column, present: bool) -> str:
    if not present:
        return f"cast(null as {_SQL_TYPES[column.type]})"
    name = column.name
    return {
        "text": f"df_text({name})",
        "timestamp": f"df_ts({name}, $tz)",
        "int": f"try_cast(trim({name}) as bigint)",
        "bool": f"df_bool({name})",
    }[column.type]


def _problems(entity: Entity, present: set[str]) -> list[str]:
    """SQL expressions, one per rule, each NULL or the reason the row breaks it."""
    checks: list[str] = []
    for column in entity.columns:
        name = column.name
        if name not in present:
            continue
        if column.required:
            checks.append(f"case when df_text({name}) is null then '{name} is required' end")
        if column.type == "timestamp":
            checks.append(
                f"case when df_text({name}) is not null and df_ts_gap({name}, $tz) "
                f"then '{name}: local time ' || trim({name}) || ' does not exist in ' || $tz "
                f"|| ' (daylight-saving gap)' "
                f"when df_text({name}) is not null and df_ts({name}, $tz) is null "
                f"then '{name}: not an ISO-8601 timestamp: ' || trim({name}) "
                f"when df_ts({name}, $tz) < timestamptz '{EARLIEST}' "
                f"or df_ts({name}, $tz) >= timestamptz '{LATEST}' "
                f"then '{name}: ' || trim({name}) || ' is before 1990 or after 2100' end"
            )
        elif column.type == "int":
            checks.append(
                f"case when df_text({name}) is not null and try_cast(trim({name}) as bigint) is null "
                f"then '{name}: not a whole number: ' || trim({name}) end"
            )
        elif column.type == "bool":
            checks.append(
                f"case when df_text({name}) is not null and df_bool({name}) is null "
                f"then '{name}: not true/false: ' || trim({name}) end"
            )
    for name in entity.non_negative:
        if name in present:
            checks.append(f"case when try_cast(trim({name}) as bigint) < 0 then '{name} is negative' end")
    for later, earlier in entity.ordered:
        if later in present and earlier in present:
            checks.append(
                f"case when df_ts({later}, $tz) < df_ts({earlier}, $tz) "
                f"then '{later} is before {earlier}' end"
            )
    return checks


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, entity: Entity, header: list[str], tz: str) -> FileReport:
    source = str(path)
    con.execute(
        "create or replace temp table _src as select * from read_csv(?, all_varchar = true, "
        "header = true, store_rejects = true, rejects_table = '_rejects', rejects_scan = '_scans')",
        [source],
    )
    # DuckDB lower-cases nothing: match the header case-insensitively to the spec.
    actual = {h.lower(): h for h in con.execute("select * from _src limit 0").fetch_df().columns}
    present = {c.name for c in entity.columns if c.name in actual}
    rename = ", ".join(f'"{actual[c]}" as {c}' for c in sorted(present))
    problems = _problems(entity, present) or ["cast(null as varchar)"]
    typed = ", ".join(f"{_typed(c, c.name in present)} as {c.name}" for c in entity.columns)
    key = ", ".join(entity.key)
    naive = " + ".join(
        f"df_is_naive({c.name})::int" for c in entity.columns if c.type == "timestamp" and c.name in present
    ) or "0"
    con.execute(
        f"""
        create or replace temp table _checked as
        with src as (select rowid + 1 as source_row, to_json(_src) as raw_record, {rename} from _src),
        checked as (
            select *, nullif(concat_ws('; ', {", ".join(problems)}), '') as reason, {naive} as naive
            from src
        ),
        typed as (
            select source_row, raw_record, reason, naive, {typed} from checked
        ),
        keyed as (
            select typed.*,
                min(source_row) filter (where reason is null) over (partition by {key}) as first_row
            from typed
        )
        select keyed.* replace (
            coalesce(reason,
                case when source_row > first_row
                     then 'duplicate key ({key}) of row ' || first_row || ' in the same file' end,
                case when exists (select 1 from raw.{entity.name} r where {
                    " and ".join(f"r.{k} is not distinct from keyed.{k}" for k in entity.key)})
                     then 'duplicate key ({key}) already loaded from another file' end
            ) as reason
        )
        from keyed
        """,
        {"tz": tz},
    )
    columns = ", ".join(entity.column_names)
    con.execute(
        f"insert into raw.{entity.name} select {columns}, ?, source_row from _checked where reason is null "
        "order by source_row",
        [source],
    )
    con.execute(
        "insert into raw.quarantine select ?, source_row, ?, reason, raw_record from _checked "
        "where reason is not null order by source_row",
        [source, entity.name],
    )
    con.execute(
        "insert into raw.quarantine select ?, line, ?, "
        "'line ' || line || ': malformed CSV row (' || error_type || '): ' || error_message, "
        "to_json(struct_pack(csv_line := csv_line)) from ("
        # one reject row per bad line (DuckDB may log a line once per error found in it)
        "select line, any_value(error_type) as error_type, any_value(error_message) as error_message, "
        "any_value(csv_line) as csv_line from _rejects group by line) order by line",
        [source, entity.name],
    )
    loaded, quarantined, naive = con.execute(
        "select count(*) filter (where reason is null), count(*) filter (where reason is not null), "
        "coalesce(sum(naive) filter (where reason is null), 0) from _checked"
    ).fetchone()
    malformed = con.execute("select count(distinct line) from _rejects").fetchone()[0]
    con.execute("drop table if exists _rejects; drop table if exists _scans")
    missing = [c for c in entity.column_names if c not in present]
    extra = [h for h in header if h.strip().lower() not in set(entity.column_names)]
    notes = []
    if missing:
        notes.append(f"absent columns (empty): {', '.join(missing)}")
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
        naive_timestamps=int(naive),
        message="; ".join(notes),
    )


def _load_file(con: duckdb.DuckDBPyConnection, path: Path, tz: str) -> FileReport:
    source = str(path)
    if path.suffix.lower() != ".csv":
        return FileReport(source, None, "unknown", "rejected",
                          message="unknown format: not a canonical CSV export (expected a .csv file "
                                  "whose header names one of: " + ", ".join(ENTITIES) + ")")
    try:
        header = _read_header(path)
    except UnicodeDecodeError as exc:
        return FileReport(source, None, "csv", "rejected",
                          message=f"not UTF-8 text (byte {exc.start}): re-export as UTF-8")
    if not header:
        return FileReport(source, None, "csv", "rejected", message="empty file: no header row")
    entity = detect_entity(header, path.stem)
    if entity is None:
        return FileReport(source, None, "csv", "rejected",
                          message="unknown format: the header matches no canonical entity "
                                  f"(header: {', '.join(header[:8])}); required columns are "
                                  + "; ".join(f"{e.name}: {', '.join(e.required)}" for e in ENTITIES.values()))
    try:
        return _load_csv(con, path, entity, header, tz)
    except duckdb.Error as exc:
        con.execute("drop table if exists _rejects; drop table if exists _scans")
        first_line = str(exc).strip().splitlines()[0]
        return FileReport(source, entity.name, "canonical csv", "rejected", message=f"cannot be read: {first_line}")


def _write_policy(con: duckdb.DuckDBPyConnection, policy: Policy, as_of: datetime, policy_sha: str,
                  exports_dir: Path) -> None:
    con.execute("create or replace table raw.policy_vocabulary (vocabulary varchar, name varchar, canonical varchar)")
    rows = [(voc, name, canonical) for voc, name, canonical in policy.vocabulary_names()]
    con.executemany("insert into raw.policy_vocabulary values (?, ?, ?)", rows)
    con.execute("create or replace table raw.policy_sla (severity varchar, sla_hours double)")
    con.executemany("insert into raw.policy_sla values (?, ?)", sorted(policy.sla_hours.items()))
    con.execute(
        "create or replace table raw.policy_settings as select "
        "?::double as attribution_window_hours, ?::double as escape_rate_rca_threshold, "
        "?::varchar as unmapped_severity, ?::varchar as default_defect_environment, "
        "?::varchar as default_incident_environment, ?::varchar as default_timezone",
        [
            policy.attribution_window_hours,
            policy.escape_rate_rca_threshold,
            policy.unmapped_severity,
            policy.default_environment.get("defects", "unknown"),
            policy.default_environment.get("incidents", "production"),
            policy.default_timezone,
        ],
    )
    con.execute(
        "create or replace table raw.build_info as select ?::timestamptz as as_of, "
        "?::timestamptz as built_at, ?::varchar as policy_sha256, ?::varchar as exports_dir",
        [as_of, datetime.now(timezone.utc), policy_sha, str(exports_dir)],
    )


# (entity, field, vocabulary): the raw values the policy maps in staging.
_MAPPED_FIELDS = (
    ("defects", "severity", "severity"),
    ("defects", "environment", "environment"),
    ("defects", "status", "status"),
    ("defects", "resolution", "resolution"),
    ("defect_status_history", "to_status", "status"),
    ("defect_status_history", "from_status", "status"),
    ("incidents", "severity", "severity"),
    ("incidents", "environment", "environment"),
)


def _unmapped(con: duckdb.DuckDBPyConnection, policy: Policy) -> list[tuple[str, str, str, int, str]]:
    fallback = {
        "severity": policy.unmapped_severity,
        "environment": "(kept as is)",
        "status": "resolved if resolved_at is set, else new",
        "resolution": "(empty)",
    }
    found = []
    for entity, column, vocabulary in _MAPPED_FIELDS:
        rows = con.execute(
            f"select {column}, count(*) from raw.{entity} "
            f"where {column} is not null and df_match_key({column}) not in "
            "(select df_match_key(name) from raw.policy_vocabulary where vocabulary = ?) "
            "group by 1 order by 2 desc, 1",
            [vocabulary],
        ).fetchall()
        found.extend((entity, column, value, n, fallback[vocabulary]) for value, n in rows)
    con.execute(
        "create or replace table raw.unmapped_values "
        "(entity varchar, field varchar, raw_value varchar, rows bigint, mapped_to varchar)"
    )
    if found:
        con.executemany("insert into raw.unmapped_values values (?, ?, ?, ?, ?)", found)
    return found


def discover(exports_dir: Path) -> list[Path]:
    """Every file below the exports folder, in a stable order (hidden files skipped)."""
    if not exports_dir.is_dir():
        raise FileNotFoundError(f"exports folder {exports_dir} does not exist")
    return sorted(
        p for p in exports_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(exports_dir).parts)
    )


def load_exports(
    con: duckdb.DuckDBPyConnection,
    exports_dir: Path,
    policy: Policy,
    as_of: datetime,
    policy_sha: str = "",
) -> LoadSummary:
    """Replace the `raw` schema with the contents of `exports_dir`.

    A full reload keeps builds reproducible: the same folder and as-of give the
    same tables, whatever was loaded before.
    """
    con.execute(_MACROS)
    con.execute(_BOOKKEEPING)
    _create_raw_tables(con)
    _write_policy(con, policy, as_of, policy_sha, exports_dir)
    reports = []
    files = discover(exports_dir)
    for index, path in enumerate(files, 1):
        report = _load_file(con, path, policy.default_timezone)
        log.info("  [%d/%d] %s: %s", index, len(files), path.name,
                 f"{report.rows_loaded} loaded, {report.rows_quarantined} quarantined"
                 if report.status == "loaded" else f"REJECTED ({report.message})")
        reports.append(report)
        con.execute(
            "insert into raw.load_report values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [report.source_file, report.entity, report.format, _sha256(path), report.status,
             report.rows_read, report.rows_loaded, report.rows_quarantined, report.naive_timestamps,
             report.message],
        )
    return LoadSummary(files=reports, unmapped=_unmapped(con, policy))


def policy_fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
