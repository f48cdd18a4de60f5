-- a table, not a view: the names pattern is a session variable, set only while this builds
{{ config(materialized="table", pre_hook="{{ set_person_pattern() }}") }}
-- depends_on: {{ ref('stg_exports__person_pattern') }}

with releases as (
    {{ first_row_per(
        source('raw', 'releases'),
        'trim(service), trim(release)',
        'source_file desc, source_row desc'
    ) }}
),

renamed as (
    select
        {{ text('service') }} as service,
        {{ text('release') }} as release,
        code_freeze_at,
        planned_release_at,
        {{ mask_text(text('rca_link')) }} as rca_link
    from releases
)

select * from renamed
