-- One row per migrated key: the defect old_key names is the one new_key names.
-- A mapping of a key onto itself says nothing; an old key mapped twice keeps
-- the later file's mapping. One step only: a chain A -> B -> C maps A to B.
with mappings as (
    select
        {{ text('old_key') }} as old_key,
        {{ text('new_key') }} as new_key,
        source_file,
        source_row
    from {{ source('raw', 'key_mappings') }}
),

final as (
    select
        old_key,
        new_key
    from mappings
    where old_key is not null and new_key is not null and old_key <> new_key
    qualify row_number() over (partition by old_key order by source_file desc, source_row desc) = 1
)

select * from final
