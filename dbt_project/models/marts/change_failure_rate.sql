-- docs/metrics.md "Change failure rate" and settled details 3 and 9.
with deployments as (
    select * from {{ ref('int_delivery_deployments') }}
),

-- A row exists for every (service, week) with a production deployment of any
-- status finished in it, so a week of only `failed` attempts shows a NULL rate;
-- weeks without any production deployment have no row.
aggregated as (
    select
        service,
        week_start,
        count(*) filter (where served) as production_deployments,
        count(*) filter (where is_failed) as failed_deployments
    from deployments
    group by grouping sets ((service, week_start), (service))
),

final as (
    select
        service,
        week_start,
        cast(production_deployments as bigint) as production_deployments,
        cast(failed_deployments as bigint) as failed_deployments,
        failed_deployments / cast(nullif(production_deployments, 0) as double) as change_failure_rate
    from aggregated
)

select * from final
