-- The canonical environments in pipeline order, and which are pre-release.
with environments as (
    select * from {{ source('raw', 'policy_environments') }}
),

final as (
    select
        environment,
        rank,
        is_pre_release
    from environments
)

select * from final
