-- One row per (coverage report, file) (docs/contract.md section 3). line_coverage
-- is NULL for a file with no coverable lines (an empty denominator).
with coverage as (
    select * from {{ ref('stg_exports__coverage') }}
),

final as (
    select
        source_file,
        report_id,
        file,
        lines_valid,
        lines_covered,
        case when lines_valid > 0 then lines_covered::double / lines_valid end as line_coverage,
        branches_valid,
        branches_covered,
        reported_at,
        commit_sha
    from coverage
)

select * from final
