-- docs/metrics.md "Deployment frequency vs recurrence": per (service, week_start),
-- every week from the service's first to its last production deployment
-- week, weeks without deployments included.
with deployments as (
    select
        service,
        week_start
    from {{ ref('int_delivery_deployments') }}
    -- a `failed` deployment never served (settled detail 3): not a production
    -- deployment, as in change_failure_rate
    where served
),

recurrences as (
    select
        service,
        cast({{ dbt.date_trunc('week', 'created_at') }} as date) as week_start
    from {{ ref('defect_clusters') }}
    where is_recurrence
),

bounds as (
    select
        service,
        min(week_start) as first_week,
        max(week_start) as last_week
    from deployments
    group by service
),

-- The dense weekly spine (dbt_utils.date_spine is not available here).
weeks as (
    select
        service,
        {{ date_series('first_week', 'last_week', 'interval 7 day') }} as week_start
    from bounds
),

deployment_counts as (
    select
        service,
        week_start,
        count(*) as production_deployments
    from deployments
    group by service, week_start
),

recurrence_counts as (
    select
        service,
        week_start,
        count(*) as recurrences
    from recurrences
    group by service, week_start
),

final as (
    select
        w.service,
        w.week_start,
        cast(coalesce(d.production_deployments, 0) as bigint) as production_deployments,
        cast(coalesce(r.recurrences, 0) as bigint) as recurrences
    from weeks as w
    left join deployment_counts as d on w.service = d.service and w.week_start = d.week_start
    left join recurrence_counts as r on w.service = r.service and w.week_start = r.week_start
)

select * from final
