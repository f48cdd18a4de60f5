-- Per non-duplicate defect with status history: resolved at least once, and
-- reopened (a resolved/closed -> open transition), both at or before the as-of
-- (METRICS.md "Delivery metrics" reopen_rate, settled details 1 and 2).
with defects as (
    select defect_id, service from {{ ref('int_defects') }}
    where not is_duplicate
),

history as (
    select * from {{ ref('stg_exports__defect_status_history') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

-- The status a transition leaves: its from_status, else the previous row's
-- to_status, else `new` (settled detail 2).
transitions as (
    select
        h.defect_id,
        h.changed_at,
        coalesce(
            h.from_status,
            lag(h.to_status) over (
                partition by h.defect_id order by h.changed_at, h.source_file, h.source_row
            ),
            'new'
        ) as from_status,
        h.to_status,
    from history as h
    cross join as_of as a
    where h.changed_at <= a.as_of
),

per_defect as (
    select
        defect_id,
        min(case
            when to_status in ('resolved', 'closed') or from_status in ('resolved', 'closed')
                then changed_at
        end) as first_resolved_at,
        min(case
            when from_status in ('resolved', 'closed')
                and to_status in ('new', 'triaged', 'in_progress', 'deferred')
                then changed_at
        end) as first_reopened_at,
    from transitions
    group by defect_id
),

final as (
    select
        d.defect_id,
        d.service,
        p.first_resolved_at,
        cast({{ dbt.date_trunc('week', 'p.first_resolved_at') }} as date) as resolved_week_start,
        p.first_reopened_at,
        p.first_reopened_at is not null as is_reopened,
    from defects as d
    inner join per_defect as p on d.defect_id = p.defect_id
    where p.first_resolved_at is not null
)

select * from final
