-- The build's as-of instant: nothing after it is counted (docs/metrics.md conventions).
with build as (
    select * from {{ ref('stg_ingest__build_info') }}
),

final as (
    select
        as_of,
        built_at
    from build
)

select * from final
