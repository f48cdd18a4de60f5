{{ config(pre_hook=set_person_pattern()) }}

-- A commit read from both a commits export and the git repository is one commit.
with commits as (
    select * from {{ source('raw', 'commits') }}
    qualify row_number() over (partition by lower(trim(sha)) order by source_file, source_row) = 1
),

renamed as (
    select
        lower({{ text('sha') }}) as sha,
        {{ text('branch') }} as branch,
        committed_at,
        {{ person_key('author') }} as author_key,
        {{ mask_text('message') }} as message,
        {{ text('files') }} as files,
    from commits
)

select * from renamed
