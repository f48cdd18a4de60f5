with commits as (
    select * from {{ source('raw', 'commits') }}
),

renamed as (
    select
        lower({{ text('sha') }}) as sha,
        {{ text('branch') }} as branch,
        committed_at,
        {{ person_key('author') }} as author_key,
        {{ mask_pii('message') }} as message,
        {{ text('files') }} as files,
    from commits
)

select * from renamed
