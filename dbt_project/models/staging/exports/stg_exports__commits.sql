-- a table, not a view: the patterns are session variables, set only while this builds
{{ config(materialized="table", pre_hook=[
    "{{ set_person_pattern() }}", "{{ set_person_key() }}", "{{ set_defect_key_pattern() }}",
    "{{ set_commit_bot_pattern() }}", "{{ set_commit_ignore_merges() }}",
]) }}
-- depends_on: {{ ref('stg_exports__person_pattern') }}
-- depends_on: {{ source('raw', 'policy_settings') }}

-- A commit read from both a commits export and the git repository is one commit.
with commits as (
    {{ first_row_per(source('raw', 'commits'), 'lower(trim(sha))', 'source_file, source_row') }}
),

production_branches as (
    select {{ value_list('branch') }} as branches from {{ ref('stg_policy__production_branches') }}
),

renamed as (
    select
        lower({{ text('commits.sha') }}) as sha,
        {{ text('commits.branch') }} as branch,
        commits.committed_at,
        {{ person_key('commits.author') }} as author_key,
        {{ mask_text('commits.message') }} as message,
        {{ text('commits.files') }} as files,
        -- from the original message: masking can replace a key ("rotate token: PAY-12")
        {{ commit_is_unlinked(
            branch=text('commits.branch'), message='commits.message', author='commits.author',
            parents='commits.parents',
            production_branches='production_branches.branches',
            key_pattern=defect_key_pattern(),
            bot_pattern=commit_bot_pattern(),
            ignore_merges=commit_ignore_merges(),
        ) }} as is_unlinked
    from commits
    cross join production_branches
)

select * from renamed
