-- The canonical severities, most severe first.
with severities as (
    select * from {{ source('raw', 'policy_severities') }}
),

final as (
    select
        severity,
        rank,
        priority_factor
    from severities
)

select * from final
