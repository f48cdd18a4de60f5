-- a table, not a view: the names pattern is a session variable, set only while this builds
{{ config(materialized="table", pre_hook=["{{ set_person_pattern() }}", "{{ set_person_key() }}"]) }}
-- depends_on: {{ ref('stg_exports__person_pattern') }}

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
        {{ text('files') }} as files
    from commits
)

select * from renamed
