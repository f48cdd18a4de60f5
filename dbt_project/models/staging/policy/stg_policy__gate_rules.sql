-- The release gate's rules per target environment (policy.gates).
with gate_rules as (
    select * from {{ source('raw', 'policy_gate_rules') }}
),

final as (
    select
        environment,
        rule,
        severity,
        max_open
    from gate_rules
)

select * from final
