-- Incidents known at the as-of, attributed to a deployment and release.
with incidents as (
    select * from {{ ref('stg_exports__incidents') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
),

deployments as (
    select * from {{ ref('int_deployments') }}
),

latest_production as (
    select * from ({{ latest_deployment_per_instant('deployments') }})
    where environment = 'production'
),

known as (
    select
        i.*,
        case when i.resolved_at <= a.as_of then i.resolved_at end as resolved_at_as_of,
        case when i.acknowledged_at <= a.as_of then i.acknowledged_at end as acknowledged_at_as_of,
        coalesce(i.impact_started_at, i.detected_at) as window_anchor
    from incidents as i
    cross join as_of as a
    where i.detected_at <= a.as_of
),

-- An explicit deployment_id always wins (settled detail 5).
explicit as (
    select
        k.incident_id,
        d.deployment_id,
        d.release,
        d.service
    from known as k
    inner join deployments as d on k.deployment_id = d.deployment_id
),

-- Otherwise the latest served production deployment of the service finished
-- strictly before the impact started, at most the attribution window earlier.
unexplained as (
    select
        incident_id,
        service,
        window_anchor
    from known
    where incident_id not in (select x.incident_id from explicit as x)
),

latest_before as (
    {{ asof_join('unexplained', 'latest_production', ['service'], 'window_anchor', 'finished_at',
                 ['b.deployment_id', 'b.release', 'b.finished_at'], inclusive=false) }}
),

windowed as (
    select
        l.incident_id,
        l.deployment_id,
        l.release
    from latest_before as l
    cross join settings as s
    where {{ hours_between('l.finished_at', 'l.window_anchor') }} <= s.attribution_window_hours
),

final as (
    select
        -- `exclude` (star_except) names columns of k
        k.* {{ star_except() }} (service, window_anchor),  -- noqa: RF02
        coalesce(k.service, e.service, 'unknown') as service,
        coalesce(e.deployment_id, w.deployment_id) as attributed_deployment_id,
        coalesce(e.release, w.release) as attributed_release,
        case
            when e.incident_id is not null then 'deployment_id'
            when w.incident_id is not null then 'window'
            else 'unattributed'
        end as attribution_method,
        {{ hours_between('k.impact_started_at', 'k.detected_at') }} as ttd_hours_raw,
        {{ hours_between('k.detected_at', 'k.resolved_at_as_of') }} as ttr_hours,
        {{ hours_between('k.detected_at', 'k.acknowledged_at_as_of') }} as tta_hours
    from known as k
    left join explicit as e on k.incident_id = e.incident_id
    left join windowed as w on k.incident_id = w.incident_id
)

select
    * {{ star_except() }} (ttd_hours_raw),
    case when ttd_hours_raw >= 0 then ttd_hours_raw end as ttd_hours,
    ttd_hours_raw is null as ttd_not_measurable,
    ttd_hours_raw < 0 as ttd_negative
from final
