-- Status category at the as-of (settled detail 2): from the status history when
-- the defect has any, else open from created_at until resolved_at.
with defects as (
    select
        defect_id,
        status,
        created_at,
        resolved_at_as_of
    from {{ ref('int_defects') }}
),

transitions as (
    select * from {{ ref('int_defect_status_transitions') }}
    where is_known_at_as_of
),

latest_transition as (
    {{ first_row_per('transitions', 'defect_id', 'transition_seq desc') }}
),

last_change as (
    select
        defect_id,
        to_status
    from latest_transition
),

history_start as (
    select * from {{ ref('int_defect_history_start') }}
),

statuses as (
    select * from {{ ref('stg_policy__statuses') }}
),

-- Without history the export's status stands when it agrees with resolved_at
-- (an open status while unresolved, a closed one once resolved).
status_at_as_of as (
    select
        d.defect_id,
        case
            when hs.defect_id is not null then coalesce(lc.to_status, hs.status_before_history)
            when d.resolved_at_as_of is null
                then case when s.is_open then d.status else 'new' end
            when not s.is_open then d.status
            else 'resolved'
        end as status_at_as_of,
        hs.defect_id is not null as has_history
    from defects as d
    left join statuses as s on d.status = s.status
    left join history_start as hs on d.defect_id = hs.defect_id
    left join last_change as lc on d.defect_id = lc.defect_id
),

final as (
    select
        a.defect_id,
        a.status_at_as_of,
        s.is_open,
        a.has_history
    from status_at_as_of as a
    left join statuses as s on a.status_at_as_of = s.status
)

select * from final
