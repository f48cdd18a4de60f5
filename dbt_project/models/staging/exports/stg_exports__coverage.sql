-- Line and branch coverage per (coverage report, file), counted from the
-- report's lines, never from its summary attributes.
with coverage as (
    {{ first_row_per(source('raw', 'coverage'), 'report_id, file', 'source_file') }}
),

final as (
    select
        source_file,
        report_id,
        {{ text('file') }} as file,
        lines_valid,
        lines_covered,
        branches_valid,
        branches_covered,
        reported_at,
        lower({{ text('commit_sha') }}) as commit_sha
    from coverage
)

select * from final
