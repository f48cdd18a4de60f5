-- SLA target hours per severity (policy.sla_hours).
with sla as (
    select * from {{ source('raw', 'policy_sla') }}
),

final as (
    select
        severity,
        sla_hours
    from sla
)

select * from final
