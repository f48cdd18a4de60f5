-- The canonical statuses, and which are open.
with statuses as (
    select * from {{ source('raw', 'policy_statuses') }}
),

final as (
    select
        status,
        is_open
    from statuses
)

select * from final
