-- The raw values no policy name maps, per entity and field, with what staging
-- made of them. Read from the staging models' own vocabulary joins (their
-- `*_unmapped` flags), so this list and the mapping cannot disagree. The load
-- summary prints it.
with defects as (
    select * from {{ ref('stg_exports__defects') }}
),

history as (
    select * from {{ ref('stg_exports__defect_status_history') }}
),

incidents as (
    select * from {{ ref('stg_exports__incidents') }}
),

deployments as (
    select * from {{ ref('stg_exports__deployments') }}
),

settings as (
    select unmapped_severity from {{ ref('stg_policy__settings') }}
),

-- One row per staged record and field whose raw value is set but unmapped,
-- with the fallback its staging model applies.
unmapped as (
    select 'defects' as entity, 'severity' as field, d.severity_raw as raw_value, s.unmapped_severity as mapped_to,
    from defects as d
    cross join settings as s
    where d.severity_unmapped and d.severity_raw is not null
    union all
    select 'defects', 'environment', environment_raw, '(kept as is)',
    from defects
    where environment_unmapped and environment_raw is not null
    union all
    select 'defects', 'status', status_raw, 'the status category, else resolved if resolved_at is set, else new',
    from defects
    where status_unmapped and status_raw is not null
    union all
    select 'defects', 'resolution', resolution_raw, '(empty)',
    from defects
    where resolution_unmapped and resolution_raw is not null
    union all
    select 'defect_status_history', 'from_status', from_status_raw, 'the status category, else new',
    from history
    where from_status_unmapped and from_status_raw is not null
    union all
    select 'defect_status_history', 'to_status', to_status_raw, 'the status category, else new',
    from history
    where to_status_unmapped and to_status_raw is not null
    union all
    select 'incidents', 'severity', i.severity_raw, s.unmapped_severity,
    from incidents as i
    cross join settings as s
    where i.severity_unmapped and i.severity_raw is not null
    union all
    select 'incidents', 'environment', environment_raw, '(kept as is)',
    from incidents
    where environment_unmapped and environment_raw is not null
    union all
    select 'deployments', 'environment', environment_raw, '(kept as is)',
    from deployments
    where environment_unmapped and environment_raw is not null
),

final as (
    select
        entity,
        field,
        raw_value,
        count(*) as rows,
        mapped_to,
    from unmapped
    group by entity, field, raw_value, mapped_to
)

select * from final
