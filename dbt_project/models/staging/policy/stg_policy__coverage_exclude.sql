-- Changed-file globs that escape_coverage_gaps leaves out
-- (policy.coverage_exclude), with their regular expressions.
with coverage_exclude as (
    select * from {{ source('raw', 'policy_coverage_exclude') }}
),

final as (
    select
        path_glob,
        path_regex
    from coverage_exclude
)

select * from final
