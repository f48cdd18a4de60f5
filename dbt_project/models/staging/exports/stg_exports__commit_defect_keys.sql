-- a table, not a view: the key pattern is a session variable, set only while this builds
{{ config(materialized="table", pre_hook="{{ set_defect_key_pattern() }}") }}
-- depends_on: {{ source('raw', 'policy_settings') }}

-- One row per (commit, defect key its message names), keys matching
-- policy.defect_key_pattern. Read from the original message: the masked one
-- in stg_exports__commits replaces the word after "token:" or "password",
-- and that word can be a key ("rotate token: PAY-12"). Only keys leave this
-- model, never the message.
with commits as (
    -- the same commit choice as stg_exports__commits
    {{ first_row_per(source('raw', 'commits'), 'lower(trim(sha))', 'source_file, source_row') }}
),

keys as (
    select distinct
        lower({{ text('c.sha') }}) as sha,
        k.defect_key
    from commits as c
    {{ list_to_rows(regexp_matches_all('c.message', defect_key_pattern()), 'k', 'defect_key') }}
),

final as (
    select
        sha,
        defect_key
    from keys
    where sha is not null
)

select * from final
