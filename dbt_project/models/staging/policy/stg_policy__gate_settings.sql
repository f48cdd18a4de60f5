-- One row: the release gate's freeze settings (policy.freeze_intake, freeze_bar).
with gate_settings as (
    select * from {{ source('raw', 'policy_gate_settings') }}
),

final as (
    select
        freeze_intake,
        freeze_bar
    from gate_settings
)

select * from final
