-- One row per period a counted defect spent in one status category, as known
-- at the as-of (docs/metrics.md settled details 1, 2, 12). A defect with status
-- history starts, at created_at, in the status before its first history row
-- (that row's from_status, else `new`) and takes each to_status at its
-- changed_at (a change before created_at takes effect at created_at); one
-- without history is `new` from created_at until resolved_at, then `resolved`.
-- Changes after the as-of have not happened yet. Duplicates are not counted.
-- Shared by cumulative_flow (transition counts) and defect_aging (open periods).
with defects as (
    select
        defect_id,
        severity,
        created_at,
        resolved_at_as_of
    from {{ ref('int_defects') }}
    where not is_duplicate
),

transitions as (
    select * from {{ ref('int_defect_status_transitions') }}
    where is_known_at_as_of
),

history_start as (
    select * from {{ ref('int_defect_history_start') }}
),

statuses as (
    select * from {{ ref('stg_policy__statuses') }}
),

-- Events: (defect, effective instant, status entered). The creation event sorts
-- first (changed_at NULL), then the status changes in their order.
creation_events as (
    select
        d.defect_id,
        d.created_at as event_at,
        cast(null as {{ type_timestamptz() }}) as changed_at,
        cast(null as bigint) as transition_seq,
        coalesce(hs.status_before_history, 'new') as status
    from defects as d
    left join history_start as hs on d.defect_id = hs.defect_id
),

history_events as (
    select
        t.defect_id,
        greatest(t.changed_at, d.created_at) as event_at,
        t.changed_at,
        t.transition_seq,
        t.to_status as status
    from transitions as t
    inner join defects as d on t.defect_id = d.defect_id
),

resolution_events as (
    select
        d.defect_id,
        d.resolved_at_as_of as event_at,
        d.resolved_at_as_of as changed_at,
        cast(null as bigint) as transition_seq,
        'resolved' as status
    from defects as d
    left join history_start as hs on d.defect_id = hs.defect_id
    where
        hs.defect_id is null
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
        row_number() over w as status_seq
    from events as e
    window w as (
        partition by e.defect_id
        order by e.changed_at nulls first, e.transition_seq
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
        st.is_open,
        d.severity,
        d.created_at
    from sequenced as s
    inner join defects as d on s.defect_id = d.defect_id
    left join statuses as st on s.status = st.status
)

select * from final
