-- a table, not a view: the names pattern is a session variable, set only while this builds
{{ config(materialized="table", pre_hook=["{{ set_person_pattern() }}", "{{ set_person_key() }}"]) }}
-- depends_on: {{ ref('stg_exports__person_pattern') }}

with raw_defects as (
    select * from {{ source('raw', 'defects') }}
),

key_mappings as (
    select * from {{ ref('stg_exports__key_mappings') }}
),

-- Two export files can hold the same defect (a newer Jira export of the same
-- issue): the newest version wins, by the source's last-updated time, then by
-- file name (exports named by date sort by date). A migrated key
-- (key_mapping.csv) names the same defect as its new key: the new key's own
-- record wins (the tracker it moved to); an old key's record stands in, under
-- the new key, only when there is none.
-- The rows numbered in a CTE rather than `qualify`, and the key replaced by
-- `except` and a new column rather than `* replace`: Spark has neither.
ranked_defects as (
    select
        d.* {{ star_except() }} (defect_id),
        coalesce(k.new_key, {{ text('d.defect_id') }}) as defect_id,
        row_number() over (
            partition by coalesce(k.new_key, {{ text('d.defect_id') }})
            order by k.old_key is not null, d.source_updated_at desc nulls last, d.source_file desc, d.source_row desc
        ) as defect_rank
    from raw_defects as d
    left join key_mappings as k on {{ text('d.defect_id') }} = k.old_key
),

defects as (
    select * {{ star_except() }} (defect_rank)
    from ranked_defects
    where defect_rank = 1
),

duplicate_links as (
    select
        defect_id,
        min(linked_defect_id) as duplicate_of
    from {{ ref('stg_exports__defect_links') }}
    where link_type = 'duplicates'
    group by defect_id
),

settings as (
    select * from {{ source('raw', 'policy_settings') }}
),

sources as (
    select * from {{ source('raw', 'policy_sources') }}
),

vocabulary as (
    select * from {{ ref('stg_exports__vocabulary') }}
),

mapped as (
    select
        {{ text('d.defect_id') }} as defect_id,
        {{ mask_text('d.title') }} as title,
        {{ mask_text('d.description') }} as description,
        coalesce(sev.canonical, s.unmapped_severity) as severity,
        {{ text('d.severity') }} as severity_raw,
        sev.canonical is null as severity_unmapped,
        -- a localised status nobody listed falls back to the tracker's own category
        coalesce(
            st.canonical,
            cat.canonical,
            case when d.resolved_at is not null then 'resolved' else 'new' end
        ) as status,
        {{ text('d.status') }} as status_raw,
        st.canonical is null as status_unmapped,
        res.canonical as resolution,
        {{ text('d.resolution') }} as resolution_raw,
        res.canonical is null as resolution_unmapped,
        {{ text('d.type') }} as type,
        coalesce({{ text('d.service') }}, 'unknown') as service,
        {{ text('d.component') }} as component,
        {{ text('d.team') }} as team,
        {{ person_key('d.assignee') }} as assignee_key,
        {{ person_key('d.reporter') }} as reporter_key,
        case
            when {{ text('d.environment') }} is null
                then coalesce(src.default_environment, s.default_defect_environment)
            else coalesce(env.canonical, trim(d.environment))
        end as environment,
        {{ text('d.environment') }} as environment_raw,
        env.canonical is null as environment_unmapped,
        {{ text('d.found_in_release') }} as found_in_release,
        {{ text('d.fixed_in_release') }} as fixed_in_release,
        d.created_at,
        d.resolved_at,
        d.users_affected,
        d.has_workaround,
        {{ mask_text('d.stack_trace') }} as stack_trace,
        {{ mask_text(text('d.labels')) }} as labels,
        coalesce({{ text('d.duplicate_of') }}, l.duplicate_of) as duplicate_of,
        {{ mask_text(text('d.deferral_rationale')) }} as deferral_rationale,
        {{ mask_text(text('d.rca_link')) }} as rca_link,
        coalesce(lower({{ text('d.segment') }}), 'full') as segment,
        {{ mask_text(text('d.url')) }} as url,
        d.source_system,
        d.source_file,
        d.source_row
    from defects as d
    cross join settings as s
    left join sources as src
        on d.source_system = src.source
    left join duplicate_links as l
        on l.defect_id = {{ text('d.defect_id') }}
    left join vocabulary as sev
        on
            d.source_system = sev.source and sev.vocabulary = 'severity'
            and sev.match_key = {{ match_key('d.severity') }}
    left join vocabulary as st
        on
            d.source_system = st.source and st.vocabulary = 'status'
            and st.match_key = {{ match_key('d.status') }}
    left join vocabulary as cat
        on
            d.source_system = cat.source and cat.vocabulary = 'status_category'
            and cat.match_key = {{ match_key('d.status_category') }}
    left join vocabulary as res
        on
            d.source_system = res.source and res.vocabulary = 'resolution'
            and res.match_key = {{ match_key('d.resolution') }}
    left join vocabulary as env
        on
            d.source_system = env.source and env.vocabulary = 'environment'
            and env.match_key = {{ match_key('d.environment') }}
)

select * from mapped
