-- Cumulative flow (docs/metrics.md "Cumulative flow", settled details 1, 2, 12):
-- for each UTC day from the first counted defect to the as-of day, the number
-- of non-duplicate defects in each status category at the end of the day (the
-- as-of day ends at the as-of). Derived from transitions, not a per-defect
-- daily spine: each status period adds 1 to its status on the day it starts
-- and removes 1 on the day it ends; a running sum per status gives the counts.
with intervals as (
    select
        status,
        valid_from,
        valid_to
    from {{ ref('int_defect_status_intervals') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

statuses as (
    select status from {{ ref('stg_policy__statuses') }}
),

transitions as (
    select
        cast(valid_from as date) as day,
        status,
        1 as delta
    from intervals
    union all
    select
        cast(valid_to as date) as day,
        status,
        -1 as delta
    from intervals
    where valid_to is not null
),

daily_net as (
    select
        day,
        status,
        sum(delta) as net_change
    from transitions
    group by day, status
),

bounds as (
    select
        min(cast(i.valid_from as date)) as first_day,
        cast(a.as_of as date) as last_day
    from intervals as i
    cross join as_of as a
    group by a.as_of
),

-- One row per day (days x statuses, not per defect).
days as (
    select {{ date_series('first_day', 'last_day', 'interval 1 day') }} as day
    from bounds
),

grid as (
    select
        d.day,
        s.status
    from days as d
    cross join statuses as s
),

final as (
    select
        g.day,
        g.status,
        cast(sum(coalesce(n.net_change, 0)) over (
            partition by g.status order by g.day rows between unbounded preceding and current row
        ) as bigint) as defects
    from grid as g
    left join daily_net as n on g.day = n.day and g.status = n.status
)

select * from final
