-- Aging (docs/metrics.md "Aging", settled details 1, 2, 8): for each ISO week from
-- the first counted defect's week to the as-of week, the defects open at the
-- week's snapshot instant, by severity and age bucket. A full week's instant is
-- the following Monday 00:00 UTC, exclusive (state after every change before
-- it); the as-of week's instant is the as-of, inclusive. Age is whole days
-- (floor of exact elapsed time); buckets are inclusive at the top.
with intervals as (
    select
        defect_id,
        severity,
        created_at,
        valid_from,
        valid_to
    from {{ ref('int_defect_status_intervals') }}
    where is_open
),

counted as (
    select min(created_at) as first_created_at from {{ ref('int_defect_status_intervals') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

bounds as (
    select
        cast({{ dbt.date_trunc('week', 'c.first_created_at') }} as date) as first_week,
        cast({{ dbt.date_trunc('week', 'a.as_of') }} as date) as as_of_week,
        a.as_of
    from counted as c
    cross join as_of as a
    where c.first_created_at is not null
),

-- One row per week.
weeks as (
    select
        {{ date_series('first_week', 'as_of_week', 'interval 7 day') }} as week_start,
        as_of_week,
        as_of
    from bounds
),

snapshots as (
    select
        week_start,
        week_start = as_of_week as is_as_of_week,
        case
            when week_start = as_of_week then as_of
            else {{ dbt.dateadd('day', 7, 'cast(week_start as ' ~ type_timestamptz() ~ ')') }}
        end as snapshot_at,
        case
            when week_start = as_of_week then cast(as_of as date)
            else cast({{ dbt.dateadd('day', 6, 'week_start') }} as date)
        end as snapshot_date
    from weeks
),

open_at_snapshot as (
    select
        s.snapshot_date,
        i.severity,
        cast(floor({{ hours_between('i.created_at', 's.snapshot_at') }} / 24.0) as integer) as age_days
    from snapshots as s
    inner join intervals as i
        on (
            not s.is_as_of_week
            and s.snapshot_at > i.valid_from
            and (i.valid_to is null or s.snapshot_at <= i.valid_to)
        )
        or (
            s.is_as_of_week
            and s.snapshot_at >= i.valid_from
            and (i.valid_to is null or s.snapshot_at < i.valid_to)
        )
),

bucketed as (
    select
        snapshot_date,
        severity,
        age_days,
        case
            when age_days <= 7 then '0-7d'
            when age_days <= 30 then '8-30d'
            when age_days <= 90 then '31-90d'
            else '>90d'
        end as age_bucket
    from open_at_snapshot
),

final as (
    select
        snapshot_date,
        severity,
        age_bucket,
        count(*) as open_defects,
        avg(age_days) as mean_age_days
    from bucketed
    group by snapshot_date, severity, age_bucket
)

select * from final
