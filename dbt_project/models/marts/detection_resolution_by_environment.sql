-- docs/metrics.md "Time to detect and time to resolve" and settled detail 7; the
-- definitions are the macros in macros/detection_resolution.sql, shared with
-- detection_resolution_by_<slice>.
with defects as (
    select * from {{ ref('int_defects') }}
    where {{ detection_resolution_counted_defect() }}
),

incidents as (
    select * from {{ ref('int_incidents') }}
),

records as (
    select
        'defect' as record_type,
        environment,
        severity,
        ttd_hours,
        ttd_not_measurable,
        ttr_hours
    from defects
    union all
    select
        'incident' as record_type,
        environment,
        severity,
        ttd_hours,
        ttd_not_measurable,
        ttr_hours
    from incidents
),

cube as (
    select
        record_type,
        case when grouping(environment) = 1 then 'ALL' else environment end as environment,
        case when grouping(severity) = 1 then 'ALL' else severity end as severity,
        {{ detection_resolution_stats() }}
    from records
    group by grouping sets (
        (record_type, environment, severity),
        (record_type, environment),
        (record_type, severity),
        (record_type)
    )
)

select * from cube
