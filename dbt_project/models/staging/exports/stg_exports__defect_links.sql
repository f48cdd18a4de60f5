-- Links between defects as the trackers record them (Jira issue links,
-- duplicate-pair files), one row per (defect, linked defect, link type).
with links as (
    select * from {{ source('raw', 'defect_links') }}
),

final as (
    select distinct
        {{ text('defect_id') }} as defect_id,
        {{ text('linked_defect_id') }} as linked_defect_id,
        lower({{ text('link_type') }}) as link_type
    from links
)

select * from final
