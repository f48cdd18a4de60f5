-- One row per (service, release, target environment) the release gate
-- evaluates (docs/metrics.md settled detail 10), with the release's previous
-- release and code freeze; the release order is int_release_order's.
with releases as (
    select * from {{ ref('int_release_order') }}
    where is_gate_release
),

gate_rules as (
    select * from {{ ref('stg_policy__gate_rules') }}
),

environments as (
    select distinct environment from gate_rules
    where environment is not null
),

final as (
    select
        r.service,
        r.release,
        e.environment,
        r.previous_gate_release as previous_release,
        r.code_freeze_at,
        r.planned_release_at,
        r.first_production_at
    from releases as r
    cross join environments as e
)

select * from final
