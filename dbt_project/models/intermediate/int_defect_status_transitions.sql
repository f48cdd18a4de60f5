-- One row per status change of a defect, from the staged status history, in
-- the order the changes happened (ties on changed_at break on the export's
-- file and row). The status a change leaves is its from_status, else the
-- previous change's to_status, else `new` (docs/metrics.md, settled detail 2).
-- A migrated key's changes (key_mapping.csv) are the defect's, in the same
-- time order, each with its origin (the key and tracker that recorded it).
-- Changes after the as-of are kept and flagged: they have not happened yet,
-- but the first change still tells the status a defect had before its history.
with history as (
    select * from {{ ref('stg_exports__defect_status_history') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

statuses as (
    select * from {{ ref('stg_policy__statuses') }}
),

sequenced as (
    select
        h.defect_id,
        row_number() over w as transition_seq,
        h.changed_at,
        coalesce(h.from_status, lag(h.to_status) over w, 'new') as from_status,
        h.to_status,
        h.origin_defect_id,
        h.origin_system,
        h.source_file
    from history as h
    window w as (partition by h.defect_id order by h.changed_at, h.source_file, h.source_row)
),

final as (
    select
        s.defect_id,
        s.transition_seq,
        s.changed_at,
        coalesce(s.changed_at <= a.as_of, false) as is_known_at_as_of,
        s.from_status,
        s.to_status,
        f.is_open as from_is_open,
        t.is_open as to_is_open,
        s.origin_defect_id,
        s.origin_system,
        s.source_file
    from sequenced as s
    cross join as_of as a
    left join statuses as f on s.from_status = f.status
    left join statuses as t on s.to_status = t.status
)

select * from final
