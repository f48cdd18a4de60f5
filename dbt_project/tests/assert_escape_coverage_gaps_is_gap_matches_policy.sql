{{ config(meta={"dagster": {"ref": {"name": "escape_coverage_gaps"}}}) }}
-- is_gap is line coverage below policy.coverage_gap_threshold or a file
-- absent from every report before the first production deployment; NULL when
-- there is no file or no production deployment (docs/metrics.md "Escape-to-coverage gaps").
with gaps as (
    select * from {{ ref('escape_coverage_gaps') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
)

select g.*, s.coverage_gap_threshold
from gaps as g
cross join settings as s
where g.is_gap is distinct from (
    case
        when g.file is null or g.first_production_at is null then null
        when g.coverage_report_id is null then true
        else coalesce(g.line_coverage < s.coverage_gap_threshold, false)
    end
)
