-- a table, not a view: the names pattern is a session variable, set only while this builds
{{ config(materialized="table", pre_hook="{{ set_person_pattern() }}") }}
-- depends_on: {{ ref('stg_exports__person_pattern') }}

-- Executed test cases from JUnit XML. The same report file loaded twice
-- (copied into two folders) has the same run_id and counts once.
with newest_cases as (
    {{ first_row_per(source('raw', 'test_cases'), 'run_id, case_index', 'source_file') }}
),

-- A failure's masked text in its own column, fingerprinted below
-- (test_failure_fingerprint in two steps, as Spark needs: stack_fingerprint.sql).
cases as (
    select
        *,
        case
            when lower(trim(status)) in ('failed', 'error')
                then {{ test_failure_text('stack_trace', 'message') }}
        end as failure_text
    from newest_cases
),

vocabulary as (
    select * from {{ ref('stg_exports__vocabulary') }}
),

final as (
    select
        c.source_file,
        c.run_id,
        c.case_index,
        {{ mask_text(text('c.suite')) }} as suite,
        {{ mask_text(text('c.classname')) }} as classname,
        -- JUnit allows a nameless testcase; it is still an executed test
        coalesce({{ mask_text(text('c.name')) }}, 'unnamed test ' || c.case_index) as name,
        lower(trim(c.status)) as status,
        c.duration_s,
        {{ mask_text(text('c.message')) }} as message,
        {{ mask_text(text('c.stack_trace')) }} as stack_trace,
        {{ stack_fingerprint('c.failure_text') }} as fingerprint,
        coalesce(env.canonical, {{ text('c.environment') }}) as environment,
        lower({{ text('c.commit_sha') }}) as commit_sha,
        c.executed_at
    from cases as c
    left join vocabulary as env
        on
            c.source_system = env.source and env.vocabulary = 'environment'
            and env.match_key = {{ match_key('c.environment') }}
)

select * from final
