-- Release milestones for the cumulative-flow chart (docs/metrics.md "Cumulative
-- flow": the release-gate view adds `gate`, the release milestones from the
-- releases export). One row per (service, release, gate) whose date falls in
-- the cumulative_flow day range: `code_freeze` on the UTC day of
-- code_freeze_at, `planned_release` on the UTC day of planned_release_at.
-- Milestones after the as-of day have not happened yet and are left out.
with releases as (
    select
        service,
        release,
        code_freeze_at,
        planned_release_at
    from {{ ref('stg_exports__releases') }}
),

flow_days as (
    select
        min(day) as first_day,
        max(day) as last_day
    from {{ ref('cumulative_flow') }}
),

milestones as (
    select
        service,
        release,
        'code_freeze' as gate,
        cast(code_freeze_at as date) as day
    from releases
    where code_freeze_at is not null
    union all
    select
        service,
        release,
        'planned_release' as gate,
        cast(planned_release_at as date) as day
    from releases
    where planned_release_at is not null
),

final as (
    select
        m.day,
        m.service,
        m.release,
        m.gate
    from milestones as m
    cross join flow_days as f
    where m.day between f.first_day and f.last_day
)

select * from final
