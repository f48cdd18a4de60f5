-- One row per period a counted defect spent in one status category, as known
-- at the as-of (METRICS.md settled details 1, 2, 12). A defect with status
-- history starts, at created_at, in the status before its first history row
-- (that row's from_status, else `new`) and takes each to_status at its
-- changed_at (a change before created_at takes effect at created_at); one
-- without history is `new` from created_at until resolved_at, then `resolved`.
-- Changes after the as-of have not happened yet. Duplicates are not counted.
-- Shared by cumulative_flow (transition counts) and defect_aging (open periods).
with defects as (
    select defect_id, severity, created_at, resolved_at_as_of
    from {{ ref('int_defects') }}
    where not is_duplicate
),

history as (
    select * from {{ ref('stg_exports__defect_status_history') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

history_start as (
    select * from {{ ref('int_defect_history_start') }}
),

-- Events: (defect, effective instant, status entered). The creation event sorts
-- first (changed_at NULL), then history in the order int_defect_status_at_as_of uses.
creation_events as (
    select
        d.defect_id,
        d.created_at as event_at,
        cast(null as timestamptz) as changed_at,
        cast(null as varchar) as source_file,
        cast(null as bigint) as source_row,
        coalesce(hs.status_before_history, 'new') as status,
    from defects as d
    left join history_start as hs on d.defect_id = hs.defect_id
),

history_events as (
    select
        h.defect_id,
        greatest(h.changed_at, d.created_at) as event_at,
        h.changed_at,
        h.source_file,
        cast(h.source_row as bigint) as source_row,
        h.to_status as status,
    from history as h
    inner join defects as d on h.defect_id = d.defect_id
    cross join as_of as a
    where h.changed_at <= a.as_of
),

resolution_events as (
    select
        d.defect_id,
        d.resolved_at_as_of as event_at,
        d.resolved_at_as_of as changed_at,
        cast(null as varchar) as source_file,
        cast(null as bigint) as source_row,
        'resolved' as status,
    from defects as d
    left join history_start as hs on d.defect_id = hs.defect_id
    where hs.defect_id is null
        and d.resolved_at_as_of is not null
),

events as (
    select * from creation_events
    union all
    select * from history_events
    union all
    select * from resolution_events
),

sequenced as (
    select
        e.defect_id,
        e.status,
        e.event_at as valid_from,
        lead(e.event_at) over w as valid_to,
        lag(e.status) over w as previous_status,
        row_number() over w as status_seq,
    from events as e
    window w as (
        partition by e.defect_id
        order by e.changed_at nulls first, e.source_file, e.source_row
    )
),

final as (
    select
        s.defect_id,
        s.status_seq,
        s.status,
        s.previous_status,
        s.valid_from,
        s.valid_to,
        s.status in ('new', 'triaged', 'in_progress', 'deferred') as is_open,
        d.severity,
        d.created_at,
    from sequenced as s
    inner join defects as d on s.defect_id = d.defect_id
)

select * from final
