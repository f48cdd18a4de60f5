-- docs/metrics.md "Delivery metrics": the four DORA keys beside MTTA and reopen
-- rate, per (service, week_start) and per service over the whole window
-- (week_start NULL).
with deployments as (
    select * from {{ ref('int_delivery_deployments') }}
),

change_failure as (
    select * from {{ ref('change_failure_rate') }}
),

incidents as (
    select
        service,
        cast({{ dbt.date_trunc('week', 'detected_at') }} as date) as week_start,
        tta_hours
    from {{ ref('int_incidents') }}
),

reopens as (
    select * from {{ ref('int_defect_reopens') }}
),

deployment_stats as (
    select
        service,
        week_start,
        count(*) filter (where served) as deployments,
        count(lead_time_hours) as n_lead_time,
        {{ percentile_cont('lead_time_hours', 0.5) }} as lead_time_hours_median,
        count(recovery_hours) as n_recovery,
        {{ percentile_cont('recovery_hours', 0.5) }} as recovery_hours_median
    from deployments
    group by grouping sets ((service, week_start), (service))
),

-- A negative time to acknowledge is a data-quality finding, not a sample.
incident_stats as (
    select
        service,
        week_start,
        count(*) filter (where tta_hours >= 0) as n_mtta,
        {{ mean("case when tta_hours >= 0 then tta_hours end") }} as mtta_hours
    from incidents
    group by grouping sets ((service, week_start), (service))
),

-- A defect counts in the week it was first resolved.
reopen_stats as (
    select
        service,
        resolved_week_start as week_start,
        count(*) filter (where is_reopened) / count(*)::double as reopen_rate
    from reopens
    group by grouping sets ((service, resolved_week_start), (service))
),

keys as (
    select
        service,
        week_start
    from deployment_stats
    union
    select
        service,
        week_start
    from incident_stats
    union
    select
        service,
        week_start
    from reopen_stats
),

final as (
    select
        k.service,
        k.week_start,
        (coalesce(d.deployments, 0))::bigint as deployments,
        (coalesce(d.n_lead_time, 0))::bigint as n_lead_time,
        d.lead_time_hours_median,
        c.change_failure_rate,
        (coalesce(d.n_recovery, 0))::bigint as n_recovery,
        d.recovery_hours_median,
        (coalesce(i.n_mtta, 0))::bigint as n_mtta,
        i.mtta_hours,
        r.reopen_rate
    from keys as k
    left join deployment_stats as d
        on k.service = d.service and k.week_start is not distinct from d.week_start
    left join change_failure as c
        on k.service = c.service and k.week_start is not distinct from c.week_start
    left join incident_stats as i
        on k.service = i.service and k.week_start is not distinct from i.week_start
    left join reopen_stats as r
        on k.service = r.service and k.week_start is not distinct from r.week_start
)

select * from final
