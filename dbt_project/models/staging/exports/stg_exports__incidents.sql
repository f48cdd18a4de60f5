-- a table, not a view: the names pattern is a session variable, set only while this builds
{{ config(materialized="table", pre_hook="{{ set_person_pattern() }}") }}
-- depends_on: {{ ref('stg_exports__person_pattern') }}

-- The newest version of an incident exported in several files wins.
with incidents as (
    {{ first_row_per(
        source('raw', 'incidents'),
        'trim(incident_id)',
        'source_updated_at desc nulls last, source_file desc, source_row desc'
    ) }}
),

sources as (
    select * from {{ source('raw', 'policy_sources') }}
),

settings as (
    select * from {{ source('raw', 'policy_settings') }}
),

vocabulary as (
    select * from {{ ref('stg_exports__vocabulary') }}
),

mapped as (
    select
        {{ text('i.incident_id') }} as incident_id,
        {{ mask_text('i.title') }} as title,
        coalesce(sev.canonical, s.unmapped_severity) as severity,
        {{ text('i.severity') }} as severity_raw,
        sev.canonical is null as severity_unmapped,
        {{ text('i.service') }} as service,
        case
            when
                {{ text('i.environment') }} is null
                then coalesce(src.default_environment, s.default_incident_environment)
            else coalesce(env.canonical, trim(i.environment))
        end as environment,
        {{ text('i.environment') }} as environment_raw,
        env.canonical is null as environment_unmapped,
        i.impact_started_at,
        i.detected_at,
        i.acknowledged_at,
        i.resolved_at,
        {{ text('i.deployment_id') }} as deployment_id,
        {{ text('i.linked_defect_ids') }} as linked_defect_ids,
        {{ mask_text(text('i.postmortem_link')) }} as postmortem_link,
        i.source_system,
        i.source_file,
        i.source_row
    from incidents as i
    cross join settings as s
    left join sources as src
        on i.source_system = src.source
    left join vocabulary as sev
        on
            i.source_system = sev.source and sev.vocabulary = 'severity'
            and sev.match_key = {{ match_key('i.severity') }}
    left join vocabulary as env
        on
            i.source_system = env.source and env.vocabulary = 'environment'
            and env.match_key = {{ match_key('i.environment') }}
)

select * from mapped
