-- One row per defect with status history: the status it had before its first
-- history row (that row's from_status, else `new`; METRICS.md settled detail 2).
-- Shared by the status at the as-of and the status intervals.
with history as (
    select * from {{ ref('stg_exports__defect_status_history') }}
),

final as (
    select defect_id, coalesce(from_status, 'new') as status_before_history
    from history
    qualify row_number() over (
        partition by defect_id order by changed_at, source_file, source_row
    ) = 1
)

select * from final
