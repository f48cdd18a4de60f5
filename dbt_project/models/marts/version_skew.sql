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
-- Of deployments finishing at the same instant in a slot the latest serves
-- (the others serve for no time at all): the last one in the slot's order,
-- so its next_in_slot_at is the slot's next instant, when the next interval
-- starts.
intervals as (
    select
        s.environment,
        s.service,
        s.slot,
        s.segment,
        s.release,
        s.deployment_id,
        s.finished_at as valid_from,
        s.next_in_slot_at as next_valid_from,
        least(
            case when s.slot = 'canary' then s.next_any_at else s.next_in_slot_at end,
            r.rolled_back_at,
            case when s.status = 'rolled_back' and r.rolled_back_at is null then s.next_any_at end
        ) as valid_to
    from sequenced as s
    left join named_rollbacks as r on s.deployment_id = r.deployment_id
    where s.next_in_slot_at is null or s.next_in_slot_at > s.finished_at
),

-- A slot's release at the end of day D comes from its interval starting last
-- before D's end (the next midnight, exclusive): the one with the latest
-- valid_from on or before D. It shows while it has not ended by that
-- midnight (D < the day of valid_to); once ended the slot is empty until
-- the next interval. So each interval changes the slot's state at most
-- twice, on the day it starts and on the day it ends, unless a later
-- interval of its slot starts the same day. The state is computed at those
-- change days and spread over the days until the next change, never per day.
slot_intervals as (
    select
        *,
        cast(valid_from as date) as from_day,
        cast(valid_to as date) as to_day,
        cast(next_valid_from as date) as next_from_day
    from intervals
),

slot_changes as (
    select
        environment,
        service,
        slot,
        from_day as day,
        release,
        segment
    from slot_intervals
    where
        (next_from_day is null or from_day < next_from_day)
        and (to_day is null or from_day < to_day)
    union all
    select
        environment,
        service,
        slot,
        greatest(from_day, to_day) as day,
        cast(null as {{ dbt.type_string() }}) as release,
        cast(null as {{ dbt.type_string() }}) as segment
    from slot_intervals
    where
        to_day is not null
        and (next_from_day is null or greatest(from_day, to_day) < next_from_day)
),

fleet_changes as (
    select * from slot_changes
    where slot = 'fleet'
),

canary_changes as (
    select * from slot_changes
    where slot = 'canary'
),

change_days as (
    select distinct
        environment,
        service,
        day
    from slot_changes
),

-- What each segment runs from a change day on. The environment's running
-- release is what its fleet serves (the canary when there is no fleet yet);
-- production's is compared with it.
fleet_states as (
    {{ asof_join('change_days', 'fleet_changes', ['environment', 'service'], 'day', 'day',
                 ['b.release as fleet_release', 'b.segment as fleet_segment'], kind='left') }}
),

slot_states as (
    {{ asof_join('fleet_states', 'canary_changes', ['environment', 'service'], 'day', 'day',
                 ['b.release as canary_release'], kind='left') }}
),

states as (
    select
        environment,
        service,
        day,
        case when fleet_segment not in ('blue', 'green') then fleet_release end as full_release,
        case when fleet_segment = 'blue' then fleet_release end as blue_release,
        case when fleet_segment = 'green' then fleet_release end as green_release,
        canary_release,
        fleet_release
    from slot_states
),

positioned as (
    select
        s.*,
        coalesce(s.fleet_release, s.canary_release) as running_release,
        o.release_position as running_position
    from states as s
    left join release_order as o
        on s.service = o.service and coalesce(s.fleet_release, s.canary_release) = o.release
),

production as (
    select
        service,
        day,
        running_release,
        running_position
    from positioned
    where environment = 'production'
),

-- The series runs from the environment's first deployment day to the
-- service's last deployment day in any environment (capped at the as-of
-- day), so an environment left behind keeps showing its growing lag.
bounds as (
    select
        d.environment,
        d.service,
        min(cast(d.finished_at as date)) as first_day,
        least(max(s.last_day), cast(max(a.as_of) as date)) as last_day
    from deployments as d
    inner join (
        select
            service,
            max(cast(finished_at as date)) as last_day
        from deployments
        group by service
    ) as s on d.service = s.service
    cross join as_of as a
    group by d.environment, d.service
),

-- Days on which anything in a row can change: the environment's own changes
-- and production's (for its lag), each running until the next one.
breakpoints as (
    select distinct
        b.environment,
        b.service,
        c.day,
        b.last_day
    from bounds as b
    inner join change_days as c
        on
            b.service = c.service
            and c.environment in (b.environment, 'production')
            and c.day between b.first_day and b.last_day
    union
    select
        environment,
        service,
        first_day,
        last_day
    from bounds
),

sequenced_breakpoints as (
    select
        *,
        lead(day) over (partition by environment, service order by day) as next_day
    from breakpoints
),

breakpoint_states as (
    {{ asof_join('sequenced_breakpoints', 'positioned', ['environment', 'service'], 'day', 'day',
                 ['b.full_release', 'b.blue_release', 'b.green_release', 'b.canary_release', 'b.fleet_release',
                  'b.running_release', 'b.running_position'], kind='left') }}
),

breakpoint_production as (
    {{ asof_join('breakpoint_states', 'production', ['service'], 'day', 'day',
                 ['b.running_release as production_release', 'b.running_position as production_position'],
                 kind='left') }}
),

pieces as (
    select
        environment,
        service,
        day as from_day,
        coalesce(cast({{ dbt.dateadd('day', -1, 'next_day') }} as date), last_day) as through_day,
        full_release,
        blue_release,
        green_release,
        canary_release,
        fleet_release,
        running_release,
        production_release,
        -- positive: behind production; negative: ahead of it (normal before release)
        production_position - running_position as lags_production_by
    from breakpoint_production
),

-- One row per day of each piece.
days as (
    select
        *,
        {{ date_series('from_day', 'through_day', 'interval 1 day') }} as day
    from pieces
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
        e.production_release,
        e.lags_production_by,
        coalesce(e.fleet_release <> e.canary_release, false) as segments_differ,
        coalesce(e.lags_production_by > s.version_skew_releases, false) as lag_exceeded,
        cast(coalesce(f.defects_found, 0) as bigint) as defects_found
    from days as e
    cross join settings as s
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
