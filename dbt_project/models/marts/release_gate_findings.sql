-- One row per gate rule that fired for a (service, release, environment)
-- (docs/metrics.md "Release gate", settled detail 10), waived or not.
with keys as (
    select * from {{ ref('int_release_gate_keys') }}
),

defects as (
    select * from {{ ref('fct_defects') }}
    where not is_duplicate
),

incidents as (
    select * from {{ ref('fct_incidents') }}
),

escape as (
    select * from {{ ref('release_escape_rate') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

gate_rules as (
    select * from {{ ref('stg_policy__gate_rules') }}
),

gate_settings as (
    select * from {{ ref('stg_policy__gate_settings') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
),

waivers as (
    select * from {{ ref('stg_exports__waivers') }}
),

-- Open defects of the release found in any environment, blocking severity of the target.
blocking_severity_open as (
    select
        k.service,
        k.release,
        k.environment,
        'BLOCKING_SEVERITY_OPEN' as rule,
        cast(null as {{ type_text() }}) as severity,
        cast(count(*) as double) as observed,
        cast(0 as double) as threshold,
        {{ sorted_list('d.defect_id') }} as defect_ids,
        {{ empty_text_list() }} as incident_ids
    from keys as k
    inner join gate_rules as g
        on k.environment = g.environment and g.rule = 'BLOCKING_SEVERITY_OPEN'
    inner join defects as d
        on
            k.service = d.service and k.release = d.attributed_release
            and d.is_open and g.severity = d.severity
    group by k.service, k.release, k.environment
),

-- max_open has no default: only severities the policy limits are checked.
open_tolerance_exceeded as (
    select
        k.service,
        k.release,
        k.environment,
        'OPEN_TOLERANCE_EXCEEDED' as rule,
        g.severity,
        cast(count(*) as double) as observed,
        cast(max(g.max_open) as double) as threshold,
        {{ sorted_list('d.defect_id') }} as defect_ids,
        {{ empty_text_list() }} as incident_ids
    from keys as k
    inner join gate_rules as g
        on k.environment = g.environment and g.rule = 'MAX_OPEN' and g.max_open is not null
    inner join defects as d
        on
            k.service = d.service and k.release = d.attributed_release
            and d.is_open and g.severity = d.severity
    group by k.service, k.release, k.environment, g.severity
    having count(*) > max(g.max_open)
),

-- Applies to every target environment; unresolved = resolved_at NULL at the as-of.
stop_the_line as (
    select
        k.service,
        k.release,
        k.environment,
        'STOP_THE_LINE' as rule,
        cast(null as {{ type_text() }}) as severity,
        cast(count(*) as double) as observed,
        cast(0 as double) as threshold,
        {{ empty_text_list() }} as defect_ids,
        {{ sorted_list('i.incident_id') }} as incident_ids
    from keys as k
    inner join incidents as i
        on
            k.service = i.service and k.release = i.attributed_release
            and i.severity = 'S1' and i.environment = 'production' and i.resolved_at is null
    group by k.service, k.release, k.environment
),

previous_escape_rca_missing as (
    select
        k.service,
        k.release,
        k.environment,
        'PREVIOUS_ESCAPE_RCA_MISSING' as rule,
        cast(null as {{ type_text() }}) as severity,
        e.escape_rate as observed,
        cast(s.escape_rate_rca_threshold as double) as threshold,
        {{ empty_text_list() }} as defect_ids,
        {{ empty_text_list() }} as incident_ids
    from keys as k
    inner join escape as e
        on k.service = e.service and k.previous_release = e.release
    cross join settings as s
    where e.rca_required and e.rca_link is null
),

-- Defects of a freeze-bar severity fixed in the release after its code freeze.
freeze_intake as (
    select
        k.service,
        k.release,
        k.environment,
        'FREEZE_INTAKE' as rule,
        cast(null as {{ type_text() }}) as severity,
        cast(count(*) as double) as observed,
        cast(0 as double) as threshold,
        {{ sorted_list('d.defect_id') }} as defect_ids,
        {{ empty_text_list() }} as incident_ids
    from keys as k
    cross join gate_settings as gs
    cross join as_of as a
    inner join defects as d
        on
            k.service = d.service and k.release = d.fixed_in_release
            and k.code_freeze_at < d.resolved_at and a.as_of >= d.resolved_at
    where
        gs.freeze_intake
        and ';' || gs.freeze_bar || ';' like '%;' || d.severity || ';%'
    group by k.service, k.release, k.environment
),

fired as (
    select * from blocking_severity_open
    union all
    select * from open_tolerance_exceeded
    union all
    select * from stop_the_line
    union all
    select * from previous_escape_rca_missing
    union all
    select * from freeze_intake
),

-- A waiver names (rule, service, release) and holds for every environment
-- while it has not expired at the as-of; the active one with the latest
-- expiry wins, else the latest expired one is shown.
-- Numbered here and filtered in waiver_match rather than with qualify, which
-- Spark lacks (issue 14).
waiver_candidates as (
    select
        f.service,
        f.release,
        f.environment,
        f.rule,
        f.severity,
        w.approver,
        w.reason,
        w.expires_at,
        w.expires_at > a.as_of as is_active,
        row_number() over (
            partition by f.service, f.release, f.environment, f.rule, f.severity
            order by w.expires_at > a.as_of desc, w.expires_at desc, w.approver asc
        ) as waiver_rank
    from fired as f
    inner join waivers as w
        on f.rule = w.rule and f.service = w.service and f.release = w.release
    cross join as_of as a
),

waiver_match as (
    select
        service,
        release,
        environment,
        rule,
        severity,
        approver,
        reason,
        expires_at,
        is_active
    from waiver_candidates
    where waiver_rank = 1
),

final as (
    select
        f.service,
        f.release,
        f.environment,
        f.rule,
        f.severity,
        f.observed,
        f.threshold,
        f.defect_ids,
        f.incident_ids,
        coalesce(w.is_active, false) as is_waived,
        w.approver as waiver_approver,
        w.reason as waiver_reason,
        w.expires_at as waiver_expires_at
    from fired as f
    left join waiver_match as w
        on
            f.service = w.service and f.release = w.release and f.environment = w.environment
            and f.rule = w.rule and f.severity is not distinct from w.severity
)

select * from final
