-- Incident -> linked defect, resolved through duplicates: a link to a duplicate
-- report counts as a link to the defect it duplicates (duplicates count once,
-- through the defect they duplicate).
with incidents as (
    select
        incident_id,
        linked_defect_ids
    from {{ ref('int_incidents') }}
    where linked_defect_ids is not null
),

defects as (
    select
        defect_id,
        is_duplicate,
        duplicate_of
    from {{ ref('int_defects') }}
),

links as (
    select distinct
        incident_id,
        trim(linked_id) as linked_defect_id
    from incidents
    {{ split_to_rows('linked_defect_ids', ';', 't', 'linked_id') }}
    where trim(linked_id) <> ''
),

final as (
    select
        l.incident_id,
        l.linked_defect_id,
        coalesce(case when d.is_duplicate then d.duplicate_of end, l.linked_defect_id) as counted_defect_id
    from links as l
    left join defects as d on l.linked_defect_id = d.defect_id
)

select * from final
