{#-
    A detection_resolution_by_<slice> mart splits the defect rows of
    detection_resolution_by_environment. For every defect row of that mart
    (the 'ALL' roll-ups included), the slice mart's rows with that
    (environment, severity) and a slice value other than 'ALL' sum to its
    n_detect, n_resolve and n_not_measurable, and no slice group lacks its
    public row; the slice mart's ('ALL', 'ALL', 'ALL') row equals the public
    ('defect', 'ALL', 'ALL') row, statistics included (same records).
    Returns one row per mismatch.
-#}
{% test sums_to_detection_resolution_by_environment(model, slice_column) %}

with slices as (
    select * from {{ model }}
),

public as (
    select * from {{ ref('detection_resolution_by_environment') }}
    where record_type = 'defect'
),

split as (
    select
        environment,
        severity,
        sum(n_detect) as n_detect,
        sum(n_resolve) as n_resolve,
        sum(n_not_measurable) as n_not_measurable,
    from slices
    where {{ slice_column }} <> 'ALL'
    group by environment, severity
),

summed as (
    select
        'sum over slice values' as check_name,
        coalesce(p.environment, s.environment) as environment,
        coalesce(p.severity, s.severity) as severity,
        p.n_detect as expected_n_detect, s.n_detect,
        p.n_resolve as expected_n_resolve, s.n_resolve,
        p.n_not_measurable as expected_n_not_measurable, s.n_not_measurable,
    from public as p
    full outer join split as s
        on p.environment = s.environment and p.severity = s.severity
    where p.environment is null
        or s.environment is null
        or p.n_detect <> s.n_detect
        or p.n_resolve <> s.n_resolve
        or p.n_not_measurable <> s.n_not_measurable
),

-- Floating-point statistics agree up to summation order.
overall as (
    select
        'overall row' as check_name,
        'ALL' as environment,
        'ALL' as severity,
        p.n_detect as expected_n_detect, o.n_detect,
        p.n_resolve as expected_n_resolve, o.n_resolve,
        p.n_not_measurable as expected_n_not_measurable, o.n_not_measurable,
    from (select * from public where environment = 'ALL' and severity = 'ALL') as p
    full outer join (
        select * from slices
        where {{ slice_column }} = 'ALL' and environment = 'ALL' and severity = 'ALL'
    ) as o on true
    where p.n_detect is distinct from o.n_detect
        or p.n_resolve is distinct from o.n_resolve
        or p.n_not_measurable is distinct from o.n_not_measurable
        or not coalesce(abs(p.mttd_hours - o.mttd_hours) < 1e-9, p.mttd_hours is null and o.mttd_hours is null)
        or not coalesce(abs(p.median_ttd_hours - o.median_ttd_hours) < 1e-9, p.median_ttd_hours is null and o.median_ttd_hours is null)
        or not coalesce(abs(p.p90_ttd_hours - o.p90_ttd_hours) < 1e-9, p.p90_ttd_hours is null and o.p90_ttd_hours is null)
        or not coalesce(abs(p.mttr_hours - o.mttr_hours) < 1e-9, p.mttr_hours is null and o.mttr_hours is null)
        or not coalesce(abs(p.median_ttr_hours - o.median_ttr_hours) < 1e-9, p.median_ttr_hours is null and o.median_ttr_hours is null)
        or not coalesce(abs(p.p90_ttr_hours - o.p90_ttr_hours) < 1e-9, p.p90_ttr_hours is null and o.p90_ttr_hours is null)
)

select * from summed
union all
select * from overall

{% endtest %}
