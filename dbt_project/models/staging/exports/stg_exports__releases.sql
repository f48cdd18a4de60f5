with releases as (
    select * from {{ source('raw', 'releases') }}
),

renamed as (
    select
        {{ text('service') }} as service,
        {{ text('release') }} as release,
        code_freeze_at,
        planned_release_at,
        {{ text('rca_link') }} as rca_link,
    from releases
)

select * from renamed
