-- SLA per incident detected at or before the as-of (docs/metrics.md "SLA"), to be
-- joined into fct_incidents by incident_id. The clock starts at detected_at.
with incidents as (
    select
        incident_id,
        severity,
        detected_at,
        resolved_at_as_of
    from {{ ref('int_incidents') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

sla as (
    select
        severity,
        sla_hours
    from {{ ref('stg_policy__sla') }}
),

measured as (
    select
        i.incident_id,
        s.sla_hours as sla_target_hours,
        {{ hours_between('i.detected_at', 'coalesce(i.resolved_at_as_of, a.as_of)') }} as sla_elapsed_hours
    from incidents as i
    cross join as_of as a
    left join sla as s on i.severity = s.severity
),

final as (
    select
        incident_id,
        sla_target_hours,
        sla_elapsed_hours,
        sla_elapsed_hours > sla_target_hours as sla_breached
    from measured
)

select * from final
