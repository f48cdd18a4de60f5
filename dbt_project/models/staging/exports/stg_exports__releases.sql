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
        {{ text('rca_link') }} as rca_link
    from releases
)

select * from renamed
