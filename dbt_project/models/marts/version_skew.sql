-- Version skew (curriculum module 5): for each environment, service and UTC
-- day, what each rollout segment runs at the end of the day, whether the
-- segments disagree or the environment lags production by more than
-- policy.version_skew_releases, and the defects found that day.
with deployments as (
    select * from {{ ref('int_deployments') }}
    where served and release is not null
),

defects as (
    select * from {{ ref('int_defects') }}
    where not is_duplicate
),

release_order as (
    select * from {{ ref('int_release_order') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
),

-- When a named rollback finished, its target stopped serving.
named_rollbacks as (
    select
        rollback_of as deployment_id,
        min(finished_at) as rolled_back_at
    from deployments
    where rollback_of is not null
    group by rollback_of
),

-- Two slots per environment: the fleet (full, blue, green: each replaces
-- what the whole environment serves; the idle colour serves nothing) and
-- the canary, which runs beside the fleet until any later deployment
-- replaces it. Ties on finished_at break on started_at, then deployment_id
-- (settled detail 3).
sequenced as (
    select
        d.*,
        case when d.segment = 'canary' then 'canary' else 'fleet' end as slot,
        lead(d.finished_at) over (
            partition by d.environment, d.service
            order by d.finished_at, d.started_at nulls first, d.deployment_id
        ) as next_any_at,
        lead(d.finished_at) over (
            partition by d.environment, d.service, case when d.segment = 'canary' then 'canary' else 'fleet' end
            order by d.finished_at, d.started_at nulls first, d.deployment_id
        ) as next_in_slot_at
    from deployments as d
),

-- A deployment serves its slot from finished_at until it is replaced or
-- rolled back. A rolled_back deployment stops when the rollback naming it
-- finished, else (no deployment names it) at the next deployment of the
-- service to the environment, whatever its segment. A slot emptied by a
-- rollback that redeployed elsewhere stays empty: nothing is guessed.
intervals as (
    select
        s.environment,
        s.service,
        s.slot,
        s.segment,
        s.release,
        s.deployment_id,
        s.finished_at as valid_from,
        least(
            case when s.slot = 'canary' then s.next_any_at else s.next_in_slot_at end,
            r.rolled_back_at,
            case when s.status = 'rolled_back' and r.rolled_back_at is null then s.next_any_at end
        ) as valid_to
    from sequenced as s
    left join named_rollbacks as r on s.deployment_id = r.deployment_id
    -- the latest of deployments finishing at the same instant is the one
    -- that serves; the others serve for no time at all
    qualify row_number() over (
        partition by s.environment, s.service, s.slot, s.finished_at
        order by s.started_at desc nulls last, s.deployment_id desc
    ) = 1
),

-- The series runs from the environment's first deployment day to the
-- service's last deployment day in any environment (capped at the as-of
-- day), so an environment left behind keeps showing its growing lag.
bounds as (
    select
        d.environment,
        d.service,
        min(cast(d.finished_at as date)) as first_day,
        max(s.last_day) as last_day
    from deployments as d
    inner join (
        select
            service,
            max(cast(finished_at as date)) as last_day
        from deployments
        group by service
    ) as s on d.service = s.service
    group by d.environment, d.service
),

-- End of day = the next midnight (exclusive). Nothing after the as-of
-- exists upstream, so the as-of day ends at the as-of in effect.
days as (
    select
        b.environment,
        b.service,
        cast(t.day as date) as day,
        cast({{ dbt.dateadd('day', 1, 'cast(t.day as date)') }} as timestamptz) as end_of_day
    from bounds as b
    cross join as_of as a,
        unnest(generate_series(
            b.first_day, least(b.last_day, cast(a.as_of as date)), interval 1 day
        )) as t (day)
),

slots as (
    select
        d.*,
        x.slot
    from days as d
    cross join (
        select 'fleet' as slot
        union all
        select 'canary' as slot
    ) as x
),

-- The interval starting last before the end of the day is the only one that
-- can cover it (a slot's intervals do not overlap).
running as (
    select
        s.environment,
        s.service,
        s.day,
        s.slot,
        case when i.valid_to is null or i.valid_to >= s.end_of_day then i.release end as release,
        case when i.valid_to is null or i.valid_to >= s.end_of_day then i.segment end as segment
    from slots as s
    asof left join intervals as i
        on
            s.environment = i.environment
            and s.service = i.service
            and s.slot = i.slot
            and s.end_of_day > i.valid_from
),

per_day as (
    select
        environment,
        service,
        day,
        max(release) filter (where slot = 'fleet' and segment not in ('blue', 'green')) as full_release,
        max(release) filter (where slot = 'fleet' and segment = 'blue') as blue_release,
        max(release) filter (where slot = 'fleet' and segment = 'green') as green_release,
        max(release) filter (where slot = 'canary') as canary_release,
        max(release) filter (where slot = 'fleet') as fleet_release
    from running
    group by environment, service, day
),

-- The environment's running release is what its fleet serves (the canary
-- when there is no fleet yet); production's is compared with it.
positioned as (
    select
        p.*,
        coalesce(p.fleet_release, p.canary_release) as running_release,
        o.release_position as running_position
    from per_day as p
    left join release_order as o
        on p.service = o.service and coalesce(p.fleet_release, p.canary_release) = o.release
),

found as (
    select
        environment,
        service,
        cast(created_at as date) as day,
        count(*) as defects_found
    from defects
    group by environment, service, cast(created_at as date)
),

final as (
    select
        e.environment,
        e.service,
        e.day,
        e.full_release,
        e.blue_release,
        e.green_release,
        e.canary_release,
        case
            when e.fleet_release is null and e.canary_release is null then 0
            when e.fleet_release is null or e.canary_release is null or e.fleet_release = e.canary_release then 1
            else 2
        end as releases_running,
        e.running_release,
        p.running_release as production_release,
        -- positive: behind production; negative: ahead of it (normal before release)
        p.running_position - e.running_position as lags_production_by,
        coalesce(e.fleet_release <> e.canary_release, false) as segments_differ,
        coalesce(p.running_position - e.running_position > s.version_skew_releases, false) as lag_exceeded,
        cast(coalesce(f.defects_found, 0) as bigint) as defects_found
    from positioned as e
    cross join settings as s
    left join positioned as p
        on p.environment = 'production' and e.service = p.service and e.day = p.day
    left join found as f
        on e.environment = f.environment and e.service = f.service and e.day = f.day
)

select
    environment,
    service,
    day,
    full_release,
    blue_release,
    green_release,
    canary_release,
    releases_running,
    running_release,
    production_release,
    lags_production_by,
    segments_differ,
    lag_exceeded,
    segments_differ or lag_exceeded as is_skewed,
    defects_found
from final
