-- Per non-duplicate defect with status history: resolved at least once (a
-- change into or out of a closed status), and reopened (a change from a
-- closed status to an open one), both at or before the as-of (docs/metrics.md,
-- Delivery metrics reopen_rate, settled details 1 and 2).
with defects as (
    select
        defect_id,
        service
    from {{ ref('int_defects') }}
    where not is_duplicate
),

transitions as (
    select * from {{ ref('int_defect_status_transitions') }}
    where is_known_at_as_of
),

per_defect as (
    select
        defect_id,
        min(case when not from_is_open or not to_is_open then changed_at end) as first_resolved_at,
        min(case when not from_is_open and to_is_open then changed_at end) as first_reopened_at
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
        p.first_reopened_at is not null as is_reopened
    from defects as d
    inner join per_defect as p on d.defect_id = p.defect_id
    where p.first_resolved_at is not null
)

select * from final
