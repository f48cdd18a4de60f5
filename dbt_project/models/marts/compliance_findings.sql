-- docs/metrics.md "Compliance findings": one row per (rule, entity) at the as-of.
-- Defect rules skip duplicates (they count through the defect they
-- duplicate); fct_defects and fct_incidents hold only as-of-visible records
-- with their status, resolution and SLA as of the as-of.
with defects as (
    select * from {{ ref('fct_defects') }}
    where not is_duplicate
),

incidents as (
    select * from {{ ref('fct_incidents') }}
),

postmortem_severities as (
    select * from {{ ref('stg_policy__postmortem_severities') }}
),

status_periods as (
    select * from {{ ref('int_defect_status_intervals') }}
),

commits as (
    select * from {{ ref('stg_exports__commits') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

-- The RCA is due when the SLA is breached (created_at + target); the
-- defect's own rca_link is the only thing that satisfies it.
rca_missing_defects as (
    select
        'RCA_MISSING' as rule,
        'defect' as entity_type,
        defect_id as entity_id,
        service,
        attributed_release as release,
        severity,
        environment,
        severity || ' production defect past its SLA without an RCA link' as detail,
        {{ dbt.dateadd('second', 'sla_target_hours * 3600', 'created_at') }} as since,
        url
    from defects
    where
        environment = 'production'
        and sla_breached
        and rca_link is null
),

-- An incident of a policy.postmortem_severities severity (S1, S2 shipped)
-- needs a post-mortem from detection, in any environment; any other incident
-- only when it is a production one past its SLA. A release's rca_link
-- (release_escape_rate) does not stand in for an incident's post-mortem: it
-- answers a different question.
incidents_without_postmortem as (
    select
        i.*,
        p.severity is not null as needs_postmortem_from_detection
    from incidents as i
    left join postmortem_severities as p on i.severity = p.severity
    where i.postmortem_link is null
),

rca_missing_incidents as (
    select
        'RCA_MISSING' as rule,
        'incident' as entity_type,
        incident_id as entity_id,
        service,
        attributed_release as release,
        severity,
        environment,
        case
            when needs_postmortem_from_detection then severity || ' incident without a post-mortem link'
            else severity || ' production incident past its SLA without a post-mortem link'
        end as detail,
        case
            when needs_postmortem_from_detection then detected_at
            else {{ dbt.dateadd('second', 'sla_target_hours * 3600', 'detected_at') }}
        end as since,
        cast(null as {{ dbt.type_string() }}) as url
    from incidents_without_postmortem
    where
        needs_postmortem_from_detection
        or (environment = 'production' and sla_breached)
),

-- Deferred at the as-of (from the status history, not the export's current
-- status); `since` is when it entered `deferred`, NULL without history.
deferral_rationale_missing as (
    select
        'DEFERRAL_RATIONALE_MISSING' as rule,
        'defect' as entity_type,
        d.defect_id as entity_id,
        d.service,
        d.attributed_release as release,
        d.severity,
        d.environment,
        d.severity || ' defect deferred without a rationale' as detail,
        p.valid_from as since,
        d.url
    from defects as d
    left join status_periods as p
        on d.defect_id = p.defect_id and p.valid_to is null and p.status = 'deferred'
    where
        d.status = 'deferred'
        and d.deferral_rationale is null
),

-- The rule itself (production branch, no defect key, merges and bots) is the
-- commit_is_unlinked macro, applied in stg_exports__commits: the one definition
-- `defectflow check-commits` runs too.
commit_unlinked as (
    select
        'COMMIT_UNLINKED' as rule,
        'commit' as entity_type,
        c.sha as entity_id,
        cast(null as {{ dbt.type_string() }}) as service,
        cast(null as {{ dbt.type_string() }}) as release,
        cast(null as {{ dbt.type_string() }}) as severity,
        cast(null as {{ dbt.type_string() }}) as environment,
        'Commit on ' || c.branch || ' names no defect key' as detail,
        c.committed_at as since,
        cast(null as {{ dbt.type_string() }}) as url
    from commits as c
    cross join as_of as a
    where
        c.is_unlinked
        and c.committed_at <= a.as_of
),

-- Open at the as-of for more than triage_hours (exact hours since
-- created_at) with no assignee in the export.
triage_unowned as (
    select
        'TRIAGE_UNOWNED' as rule,
        'defect' as entity_type,
        d.defect_id as entity_id,
        d.service,
        d.attributed_release as release,
        d.severity,
        d.environment,
        d.severity || ' defect open past the triage window without an assignee' as detail,
        {{ dbt.dateadd('second', 's.triage_hours * 3600', 'd.created_at') }} as since,
        d.url
    from defects as d
    cross join settings as s
    cross join as_of as a
    where
        d.is_open
        and d.assignee_key is null
        and {{ hours_between('d.created_at', 'a.as_of') }} > s.triage_hours
),

final as (
    select * from rca_missing_defects
    union all
    select * from rca_missing_incidents
    union all
    select * from deferral_rationale_missing
    union all
    select * from commit_unlinked
    union all
    select * from triage_unowned
)

select * from final
