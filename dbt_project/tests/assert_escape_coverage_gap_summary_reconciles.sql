{{ config(meta={"dagster": {"ref": {"name": "escape_coverage_gap_summary"}}}) }}
-- The ('ALL', 'ALL') summary row counts what escape_coverage_gaps holds.
with gaps as (
    select * from {{ ref('escape_coverage_gaps') }}
),

release_files as (
    select distinct service, release, file, is_gap from gaps where file is not null
),

expected as (
    select
        (select count(distinct defect_id) from gaps where file is not null) as escaped_defects,
        (select count(*) from release_files) as files,
        (select count(*) from release_files where is_gap) as gap_files,
        (select count(*) from (select distinct service, release, defect_id, incident_id from gaps where file is null)) as escapes_without_change
),

actual as (
    select * from {{ ref('escape_coverage_gap_summary') }}
    where service = 'ALL' and component = 'ALL'
)

select e.*, a.escaped_defects as actual_escaped_defects, a.files as actual_files,
    a.gap_files as actual_gap_files, a.escapes_without_change as actual_escapes_without_change
from expected as e
left join actual as a on true
where (a.files is null and e.files + e.escapes_without_change > 0)
    or a.escaped_defects <> e.escaped_defects
    or a.files <> e.files
    or a.gap_files <> e.gap_files
    or a.escapes_without_change <> e.escapes_without_change
