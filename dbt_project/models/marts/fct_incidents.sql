-- One row per incident detected at or before the as-of, with its attribution.
with incidents as (
    select
        i.*,
        sla.sla_target_hours,
        sla.sla_breached
    from {{ ref('int_incidents') }} as i
    left join {{ ref('int_incident_sla') }} as sla on i.incident_id = sla.incident_id
),

final as (
    select
        incident_id,
        title,
        severity,
        severity_raw,
        service,
        environment,
        impact_started_at,
        detected_at,
        acknowledged_at_as_of as acknowledged_at,
        resolved_at_as_of as resolved_at,
        resolved_at_as_of is null as is_open,
        deployment_id,
        attributed_deployment_id,
        attributed_release,
        attribution_method,
        linked_defect_ids,
        postmortem_link,
        ttd_hours,
        ttd_negative,
        ttr_hours,
        tta_hours,
        sla_target_hours,
        sla_breached,
        source_file,
        source_row
    from incidents
)

select * from final
