"""History: every build appends its headline figures and gate verdicts, so trends survive rebuilds
(CONTRACT.md section 3).

Rows are keyed by the build's as-of and build time and never updated or
deleted; the build copies the previous warehouse before writing, so the
history carries over from build to build.
"""

import dagster as dg

from pipelines.defs.warehouse import Warehouse

HEADLINE_INPUTS = [
    ["marts", "release_escape_rate"],
    ["marts", "detection_resolution_by_environment"],
    ["marts", "build_metadata"],
]
GATE_INPUTS = [["marts", "release_gate"], ["marts", "build_metadata"]]

_CREATE = """
create schema if not exists history;
create table if not exists history.metric_snapshots (
    as_of timestamptz, built_at timestamptz, metric varchar, service varchar, record_type varchar,
    environment varchar, value double, n bigint
);
"""

# The headline figures: escape rate per service and overall, MTTD/MTTR per record type and environment.
_APPEND = """
insert into history.metric_snapshots
with build as (
    select m.as_of, b.built_at from marts.build_metadata as m cross join raw.build_info as b
),
figures as (
    select 'escape_rate' as metric, service, null as record_type, null as environment, escape_rate as value,
        pre_release_defects + escaped_defects + escaped_incidents as n
    from marts.release_escape_rate where release = 'ALL'
    union all
    select 'mttd_hours', 'ALL', record_type, environment, mttd_hours, n_detect
    from marts.detection_resolution_by_environment where severity = 'ALL'
    union all
    select 'mttr_hours', 'ALL', record_type, environment, mttr_hours, n_resolve
    from marts.detection_resolution_by_environment where severity = 'ALL'
)
select build.as_of, build.built_at, figures.* from figures cross join build
"""


_CREATE_VERDICTS = """
create schema if not exists history;
create table if not exists history.gate_verdicts (
    as_of timestamptz, built_at timestamptz, service varchar, release varchar, environment varchar,
    verdict varchar, fired_rules varchar[], waived_rules varchar[]
);
"""

_APPEND_VERDICTS = """
insert into history.gate_verdicts
select m.as_of, b.built_at, g.service, g.release, g.environment, g.verdict, g.fired_rules, g.waived_rules
from marts.release_gate as g
cross join marts.build_metadata as m
cross join raw.build_info as b
"""


@dg.asset(key=["history", "gate_verdicts"], deps=GATE_INPUTS, group_name="history", kinds={"duckdb"})
def gate_verdicts(warehouse: Warehouse) -> dg.MaterializeResult:
    """Append this build's release-gate verdicts to history.gate_verdicts."""
    with warehouse.connect() as con:
        con.execute(_CREATE_VERDICTS)
        con.execute(_APPEND_VERDICTS)
        held = con.execute(
            "select count(*) filter (where verdict = 'HOLD'), count(*) from history.gate_verdicts "
            "where built_at = (select built_at from raw.build_info)"
        ).fetchall()[0]
    return dg.MaterializeResult(metadata={"held": held[0], "verdicts": held[1]})


@dg.asset(key=["history", "metric_snapshots"], deps=HEADLINE_INPUTS, group_name="history", kinds={"duckdb"})
def metric_snapshots(warehouse: Warehouse) -> dg.MaterializeResult:
    """Append this build's headline figures (escape rate, MTTD, MTTR) to history.metric_snapshots."""
    with warehouse.connect() as con:
        con.execute(_CREATE)
        con.execute(_APPEND)
        appended, builds = con.execute(
            "select count(*) filter (where built_at = (select built_at from raw.build_info)), "
            "count(distinct built_at) from history.metric_snapshots"
        ).fetchall()[0]
    return dg.MaterializeResult(metadata={"rows_appended": appended, "builds_recorded": builds})


defs = dg.Definitions(assets=[metric_snapshots, gate_verdicts])
