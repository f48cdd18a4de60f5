-- Every known release of a service in the service's release order
-- (docs/metrics.md, Release order): the one ordering the gate's previous
-- release, the escape-rate charts and the reports use.
with release_order as (
    select * from {{ ref('int_release_order') }}
),

final as (
    select
        service,
        release,
        is_gate_release,
        code_freeze_at,
        planned_release_at,
        first_production_at,
        release_order_at,
        release_position,
        previous_release,
        previous_gate_release
    from release_order
)

select * from final
