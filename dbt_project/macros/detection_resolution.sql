{#- docs/metrics.md "Time to detect and time to resolve" (settled detail 7), in one
    place: detection_resolution_by_environment and the
    detection_resolution_by_<slice> marts call these, so the definitions
    cannot drift apart. -#}

{#- The int_defects rows the statistics count: every non-duplicate defect
    (in any environment, `unknown` included). -#}
{% macro detection_resolution_counted_defect() -%}
    not is_duplicate
{%- endmacro %}

{#- The statistics over records carrying ttd_hours (NULL when not measurable
    or negative), ttd_not_measurable and ttr_hours. -#}
{% macro detection_resolution_stats() -%}
    count(ttd_hours) as n_detect,
        {{ mean("ttd_hours") }} as mttd_hours,
        {{ percentile_cont('ttd_hours', 0.5) }} as median_ttd_hours,
        {{ percentile_cont('ttd_hours', 0.9) }} as p90_ttd_hours,
        count(ttr_hours) as n_resolve,
        {{ mean("ttr_hours") }} as mttr_hours,
        {{ percentile_cont('ttr_hours', 0.5) }} as median_ttr_hours,
        {{ percentile_cont('ttr_hours', 0.9) }} as p90_ttr_hours,
        count(*) filter (where ttd_not_measurable) as n_not_measurable
{%- endmacro %}

{#- The body of a detection_resolution_by_<slice> mart (slice: a text column
    of int_defects such as team or component). Defects only: incidents carry
    no team or component. Groups: the full (environment, severity) cube within
    each slice value -- (slice, env, sev), (slice, env, 'ALL'), (slice, 'ALL',
    sev), (slice, 'ALL', 'ALL') -- and ('ALL', 'ALL', 'ALL'); a group exists
    when it has a record. A defect without the slice value is counted under
    'unassigned'. -#}
{% macro detection_resolution_by_slice(slice, defects) -%}
with defects as (
    select
        coalesce({{ slice }}, 'unassigned') as slice_value,
        environment,
        severity,
        ttd_hours,
        ttd_not_measurable,
        ttr_hours
    from {{ defects }}
    where {{ detection_resolution_counted_defect() }}
),

cube as (
    select
        case when grouping(slice_value) = 1 then 'ALL' else slice_value end as {{ slice }},
        case when grouping(environment) = 1 then 'ALL' else environment end as environment,
        case when grouping(severity) = 1 then 'ALL' else severity end as severity,
        {{ detection_resolution_stats() }}
    from defects
    group by grouping sets (
        (slice_value, environment, severity),
        (slice_value, environment),
        (slice_value, severity),
        (slice_value),
        ()
    )
    -- the empty grouping set yields a row even without defects
    having count(*) > 0
)

select * from cube
{%- endmacro %}
