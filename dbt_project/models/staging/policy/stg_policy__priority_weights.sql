-- One row: the priority score weights (policy.priority_weights).
with weights as (
    select * from {{ source('raw', 'policy_priority_weights') }}
),

final as (
    select
        severity,
        recurrence,
        users,
        no_workaround
    from weights
)

select * from final
