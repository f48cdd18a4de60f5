"""Row rules: typing, validation and quarantine, the same for every format.

A canonical CSV and every adapter's rows end in `check_and_insert`, so a rule
and its message are written once: a row that breaks one goes to
`raw.quarantine` with the reason and its original record, the others are typed
into `raw.<entity>`. Rows are numbered the same way for every format (their
place among the file's data records), which is what the quarantine and the
duplicate-key message report.

SQL identifiers below (table and column names) come from the fixed entity
specs in `canonical.py`, never from user input; values are bound parameters.
"""

from __future__ import annotations

import duckdb

from pipelines.defs.ingest.canonical import Column, Entity

EARLIEST = "1990-01-01 00:00:00+00"
LATEST = "2101-01-01 00:00:00+00"  # "after 2100" means from 2101 on

# Timestamp parsing, once, for every adapter: ISO-8601 with an offset is an
# instant; without one it is a wall-clock time in the policy's zone. A wall
# time that does not exist there (DST gap) is rejected; an ambiguous one
# (DST fold) takes the earlier instant (docs/metrics.md, Settled details: data timestamps).
MACROS = r"""
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

# Per source file: (rows loaded, rows quarantined, naive timestamps among the loaded rows).
Counts = dict[str, tuple[int, int, int]]

SQL_TYPES = {"text": "varchar", "timestamp": "timestamptz", "int": "bigint", "float": "double", "bool": "boolean"}

# A kept row's record number when DuckDB skipped malformed records before it.
_NUMBER_PAST_MALFORMED = "rowid + 1 + (select count(*) from _malformed where rec - j < _raw_csv.rowid + 1)"


def csv_row_numbers(con: duckdb.DuckDBPyConnection) -> tuple[duckdb.Expression, int]:
    """The `source_row` of the rows DuckDB kept in `_raw_csv`, and how many records it rejected.

    Reads DuckDB's `_rejects` table and leaves `_malformed` behind for the
    caller to drop with the other temp tables of the file.
    """
    # Rows are numbered by their place among all data records (header excluded),
    # malformed ones included: DuckDB keeps the good rows in order, so a kept row's
    # number is its position plus the malformed records before it.
    con.execute("create or replace temp table _malformed as select line - 1 as rec, "
                "row_number() over (order by line) as j from (select distinct line from _rejects)")
    malformed = con.execute("select count(*) from _malformed").fetchall()[0][0]
    number = duckdb.SQLExpression(_NUMBER_PAST_MALFORMED if malformed else "rowid + 1").alias("source_row")
    return number, malformed


def _typed(column: Column, present: bool) -> str:
    if not present:
        return f"cast(null as {SQL_TYPES[column.type]})"
    name = column.name
    return {
        "text": f"df_text({name})",
        "timestamp": f"{name}__ts",  # parsed once, in the `parsed` step of check_and_insert
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
    for name, largest in entity.maximum:
        if name in present:
            checks.append(f"case when try_cast(trim({name}) as double) > {largest} "
                          f"then '{name}: ' || trim({name}) || ' is above the largest accepted value {largest:,}' end")
    for later, earlier in entity.ordered:
        if later in present and earlier in present:
            checks.append(f"case when {later}__ts < {earlier}__ts then '{later} is before {earlier}' end")
    return checks


def check_and_insert(
    con: duckdb.DuckDBPyConnection, entity: Entity, present: set[str], tz: str, source_system: str,
    records: str, raw_record: str, extra_reason: bool = False,
) -> Counts:
    """Validate `_src` (source_file, source_row and canonical text columns) into raw + quarantine.

    `_src` may hold several files: rows are numbered, and keys compared, within
    their own file. The bookkeeping columns are `_df_`-prefixed: an entity may
    have a column called `reason` (waivers) and must not collide with them.

    `records` names a relation with (source_file, source_row) and what the SQL
    expression `raw_record` (over its alias `r`) turns into the original record;
    it is evaluated only for the quarantined rows. Returns, per file, (loaded,
    quarantined, naive timestamps among the loaded rows).
    """
    # SQL text: identifiers from the fixed canonical entity list (canonical.py) and the
    # callers' fixed relation names and expressions; values are bound.
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
        )
        select source_file, source_row, _df_reason, _df_naive, {typed} from checked
        """,
        {"tz": tz},
    )
    # A key seen again among a file's valid rows: the later rows are quarantined. Grouped
    # apart and applied as an update: repeats are rare, and a window over the whole rows
    # (or a join of them with themselves) cost as much as all the checks together.
    same_key = " and ".join(f"c.{k} is not distinct from d.{k}" for k in entity.key)
    con.execute(
        f"""
        update _checked as c
        set _df_reason = 'duplicate key ({key}) of row ' || d._df_first_row || ' in the same file'
        from (
            select source_file, {key}, min(source_row) as _df_first_row
            from _checked where _df_reason is null
            group by source_file, {key} having count(*) > 1
        ) as d
        where c._df_reason is null and c.source_file = d.source_file and {same_key}
            and c.source_row > d._df_first_row
        """
    )
    columns = ", ".join(entity.column_names)
    con.execute(
        f"insert into raw.{entity.name} select {columns}, source_file, source_row, ? from _checked "
        "where _df_reason is null",
        [source_system],
    )
    con.execute(
        f"insert into raw.quarantine select c.source_file, c.source_row, ?, c._df_reason, {raw_record} "
        f"from _checked as c inner join {records} as r using (source_file, source_row) "
        "where c._df_reason is not null order by c.source_file, c.source_row",
        [entity.name],
    )
    rows = con.execute(
        "select source_file, count(*) filter (where _df_reason is null), "
        "count(*) filter (where _df_reason is not null), "
        "coalesce(sum(_df_naive) filter (where _df_reason is null), 0) from _checked group by source_file"
    ).fetchall()
    con.execute("drop table _checked")
    return {source: (loaded, quarantined, int(naive)) for source, loaded, quarantined, naive in rows}
