{{ config(meta={"dagster": {"ref": {"name": "deploy_frequency_recurrence"}}}) }}
-- deploy_frequency_recurrence is dense (docs/metrics.md "Deployment frequency vs
-- recurrence"): per service, every week_start is a Monday, the series runs
-- from the first to the last week with a served production deployment
-- (int_delivery_deployments), the row count is (last - first) / 7 + 1, and
-- the deployments sum to change_failure_rate's whole-window row. Returns one
-- row per failing service.
with weeks as (
    select * from {{ ref('deploy_frequency_recurrence') }}
),

series as (
    select
        service,
        min(week_start) as first_week,
        max(week_start) as last_week,
        count(*) as n_weeks,
        count(*) filter (where extract(isodow from week_start) <> 1) as not_mondays,
        sum(production_deployments) as production_deployments,
    from weeks
    group by service
),

served as (
    select service, min(week_start) as first_week, max(week_start) as last_week,
    from {{ ref('int_delivery_deployments') }}
    where served
    group by service
),

whole_window as (
    select service, production_deployments,
    from {{ ref('change_failure_rate') }}
    where week_start is null and production_deployments > 0
)

select
    coalesce(s.service, d.service, w.service) as service,
    s.first_week, d.first_week as first_served_week,
    s.last_week, d.last_week as last_served_week,
    s.n_weeks, s.not_mondays,
    s.production_deployments, w.production_deployments as change_failure_rate_deployments,
from series as s
full outer join served as d on s.service = d.service
full outer join whole_window as w on coalesce(s.service, d.service) = w.service
where s.service is null
    or d.service is null
    or w.service is null
    or s.first_week <> d.first_week
    or s.last_week <> d.last_week
    or s.n_weeks <> (s.last_week - s.first_week) / 7 + 1
    or s.not_mondays > 0
    or s.production_deployments <> w.production_deployments
