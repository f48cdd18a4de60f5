-- One row per (service, release, target environment): PASS, or HOLD when a
-- rule fired without an active waiver (docs/metrics.md "Release gate").
with keys as (
    select * from {{ ref('int_release_gate_keys') }}
),

findings as (
    select * from {{ ref('release_gate_findings') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

per_key as (
    select
        service,
        release,
        environment,
        count(*) filter (where not is_waived) as n_unwaived,
        {{ sorted_list('rule', distinct=true) }} as fired_rules,
        {{ sorted_list('rule', distinct=true, filter='is_waived') }} as waived_rules,
        {{ struct_list({
            'rule': 'rule',
            'severity': 'severity',
            'observed': 'observed',
            'threshold': 'threshold',
            'defect_ids': 'defect_ids',
            'incident_ids': 'incident_ids',
            'waived': 'is_waived',
            'waiver_approver': 'waiver_approver',
            'waiver_reason': 'waiver_reason',
            'waiver_expires_at': 'waiver_expires_at'
        }, 'rule, severity') }} as reasons
    from findings
    group by service, release, environment
),

final as (
    select
        k.service,
        k.release,
        k.environment,
        case when coalesce(p.n_unwaived, 0) > 0 then 'HOLD' else 'PASS' end as verdict,
        coalesce(p.fired_rules, {{ empty_text_list() }}) as fired_rules,
        coalesce(p.waived_rules, {{ empty_text_list() }}) as waived_rules,
        coalesce(p.reasons, {{ empty_list() }}) as reasons,
        k.previous_release,
        k.code_freeze_at,
        a.as_of
    from keys as k
    cross join as_of as a
    left join per_key as p
        on k.service = p.service and k.release = p.release and k.environment = p.environment
)

select * from final
