with history as (
    select * from {{ source('raw', 'defect_status_history') }}
),

vocabulary as (
    select * from {{ ref('stg_exports__vocabulary') }}
),

mapped as (
    select
        {{ text('h.defect_id') }} as defect_id,
        h.changed_at,
        -- a status nobody listed counts as open (`new`): it is listed in the load summary
        case when {{ text('h.from_status') }} is not null then coalesce(f.canonical, 'new') end as from_status,
        coalesce(t.canonical, 'new') as to_status,
        {{ text('h.from_status') }} as from_status_raw,
        {{ text('h.to_status') }} as to_status_raw,
        h.source_file,
        h.source_row,
    from history as h
    left join vocabulary as f
        on f.vocabulary = 'status' and f.match_key = {{ match_key('h.from_status') }}
    left join vocabulary as t
        on t.vocabulary = 'status' and t.match_key = {{ match_key('h.to_status') }}
)

select * from mapped
