-- One row per defect with status history: the status it had before its first
-- status change (docs/metrics.md, settled detail 2), whenever that change
-- happened. Shared by the status at the as-of and the status intervals.
with transitions as (
    select * from {{ ref('int_defect_status_transitions') }}
),

final as (
    select
        defect_id,
        from_status as status_before_history
    from transitions
    where transition_seq = 1
)

select * from final
