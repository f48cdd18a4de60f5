with defects as (
    select * from {{ source('raw', 'defects') }}
),

settings as (
    select * from {{ source('raw', 'policy_settings') }}
),

vocabulary as (
    select * from {{ ref('stg_exports__vocabulary') }}
),

mapped as (
    select
        {{ text('d.defect_id') }} as defect_id,
        {{ mask_pii('d.title') }} as title,
        {{ mask_pii('d.description') }} as description,
        coalesce(sev.canonical, s.unmapped_severity) as severity,
        {{ text('d.severity') }} as severity_raw,
        sev.canonical is null as severity_unmapped,
        coalesce(
            st.canonical,
            case when d.resolved_at is not null then 'resolved' else 'new' end
        ) as status,
        res.canonical as resolution,
        {{ text('d.type') }} as type,
        coalesce({{ text('d.service') }}, 'unknown') as service,
        {{ text('d.component') }} as component,
        {{ text('d.team') }} as team,
        {{ person_key('d.assignee') }} as assignee_key,
        case
            when {{ text('d.environment') }} is null then s.default_defect_environment
            else coalesce(env.canonical, trim(d.environment))
        end as environment,
        {{ text('d.environment') }} as environment_raw,
        {{ text('d.found_in_release') }} as found_in_release,
        {{ text('d.fixed_in_release') }} as fixed_in_release,
        d.created_at,
        d.resolved_at,
        d.users_affected,
        d.has_workaround,
        {{ mask_pii('d.stack_trace') }} as stack_trace,
        {{ text('d.labels') }} as labels,
        {{ text('d.duplicate_of') }} as duplicate_of,
        {{ mask_pii(text('d.deferral_rationale')) }} as deferral_rationale,
        {{ text('d.rca_link') }} as rca_link,
        coalesce(lower({{ text('d.segment') }}), 'full') as segment,
        {{ text('d.url') }} as url,
        d.source_file,
        d.source_row,
    from defects as d
    cross join settings as s
    left join vocabulary as sev
        on sev.vocabulary = 'severity' and sev.match_key = {{ match_key('d.severity') }}
    left join vocabulary as st
        on st.vocabulary = 'status' and st.match_key = {{ match_key('d.status') }}
    left join vocabulary as res
        on res.vocabulary = 'resolution' and res.match_key = {{ match_key('d.resolution') }}
    left join vocabulary as env
        on env.vocabulary = 'environment' and env.match_key = {{ match_key('d.environment') }}
)

select * from mapped
