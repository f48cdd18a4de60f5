-- One row per defect known at the as-of (duplicates included, flagged).
with defects as (
    select * from {{ ref('int_defects') }}
),

status as (
    select * from {{ ref('int_defect_status_at_as_of') }}
),

sla as (
    select * from {{ ref('int_defect_sla_priority') }}
),

fingerprints as (
    select * from {{ ref('int_defect_stack_fingerprints') }}
),

final as (
    select
        d.defect_id,
        d.title,
        d.description,
        d.severity,
        d.severity_raw,
        s.status_at_as_of as status,
        case when d.resolved_at_as_of is not null then d.resolution end as resolution,
        d.type,
        d.service,
        d.component,
        d.team,
        d.assignee_key,
        d.environment,
        d.environment_raw,
        d.found_in_release,
        d.fixed_in_release,
        d.attributed_release,
        d.attribution_method,
        d.created_at,
        d.resolved_at_as_of as resolved_at,
        d.users_affected,
        d.has_workaround,
        d.stack_trace,
        -- the key a post-mortem matches pre-release test failures on (fct_test_cases.fingerprint)
        x.stack_fingerprint,
        d.labels,
        d.duplicate_of,
        d.is_duplicate,
        d.deferral_rationale,
        d.rca_link,
        d.segment,
        d.url,
        s.is_open,
        s.has_history,
        d.is_pre_release,
        d.is_escaped,
        d.release_reached_environment_at,
        d.ttd_hours,
        d.ttd_negative,
        d.ttr_hours,
        sla.sla_target_hours,
        sla.sla_breached,
        sla.priority_score,
        d.source_file,
        d.source_row
    from defects as d
    inner join status as s on d.defect_id = s.defect_id
    left join sla on d.defect_id = sla.defect_id
    left join fingerprints as x on d.defect_id = x.defect_id
)

select * from final
