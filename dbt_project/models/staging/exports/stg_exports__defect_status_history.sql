with raw_history as (
    select * from {{ source('raw', 'defect_status_history') }}
),

-- The same transition exported twice (overlapping export files) is one transition.
history as (
    select *
    from raw_history
    qualify row_number() over (
        partition by defect_id, changed_at, from_status, to_status order by source_file, source_row
    ) = 1
),

vocabulary as (
    select * from {{ ref('stg_exports__vocabulary') }}
),

key_mappings as (
    select * from {{ ref('stg_exports__key_mappings') }}
),

mapped as (
    select
        -- a migrated key's events join the defect's own, each keeping its origin
        coalesce(k.new_key, {{ text('h.defect_id') }}) as defect_id,
        {{ text('h.defect_id') }} as origin_defect_id,
        h.source_system as origin_system,
        h.changed_at,
        -- a status nobody listed falls back to the tracker's category, else counts
        -- as open (`new`); it is listed in the load summary
        case
            when {{ text('h.from_status') }} is not null
                then coalesce(f.canonical, fc.canonical, 'new')
        end as from_status,
        coalesce(t.canonical, tc.canonical, 'new') as to_status,
        {{ text('h.from_status') }} as from_status_raw,
        f.canonical is null as from_status_unmapped,
        {{ text('h.to_status') }} as to_status_raw,
        t.canonical is null as to_status_unmapped,
        h.source_file,
        h.source_row
    from history as h
    left join key_mappings as k on {{ text('h.defect_id') }} = k.old_key
    left join vocabulary as f
        on
            h.source_system = f.source and f.vocabulary = 'status'
            and f.match_key = {{ match_key('h.from_status') }}
    left join vocabulary as fc
        on
            h.source_system = fc.source and fc.vocabulary = 'status_category'
            and fc.match_key = {{ match_key('h.from_status_category') }}
    left join vocabulary as t
        on
            h.source_system = t.source and t.vocabulary = 'status'
            and t.match_key = {{ match_key('h.to_status') }}
    left join vocabulary as tc
        on
            h.source_system = tc.source and tc.vocabulary = 'status_category'
            and tc.match_key = {{ match_key('h.to_status_category') }}
)

select * from mapped
