-- One row: the policy's scalar settings.
with settings as (
    select * from {{ source('raw', 'policy_settings') }}
),

final as (
    select
        attribution_window_hours,
        escape_rate_rca_threshold,
        unmapped_severity,
        default_defect_environment,
        default_incident_environment,
        default_timezone,
        triage_hours,
        coverage_gap_threshold,
        version_skew_releases,
        defect_key_pattern,
        duplicate_threshold,
        candidates_per_defect
    from settings
)

select * from final
