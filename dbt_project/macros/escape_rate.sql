{#- docs/metrics.md "Defect escape rate", in one place: release_escape_rate and
    the escape_rate_by_<slice> marts call these, so the definitions cannot
    drift apart. -#}

{#- The int_defects rows the escape rate counts: non-duplicates found before
    production or in production (a defect in an `unknown` or unmapped
    environment is in neither count). -#}
{% macro escape_rate_counted_defect() -%}
    not is_duplicate and (is_pre_release or is_escaped)
{%- endmacro %}

{#- The defect parts of the escape rate, as aggregates over counted defects. -#}
{% macro escape_rate_defect_counts() -%}
    count(*) filter (where is_pre_release) as pre_release_defects,
        count(*) filter (where is_escaped) as escaped_defects
{%- endmacro %}

{#- escaped / all found; NULL when nothing was found. -#}
{% macro escape_rate(pre_release_defects, escaped_defects, escaped_incidents) -%}
    ({{ escaped_defects }} + {{ escaped_incidents }})
            / nullif({{ pre_release_defects }} + {{ escaped_defects }} + {{ escaped_incidents }}, 0)::double
{%- endmacro %}

{#- The rate is above policy.escape_rate_rca_threshold; NULL when the rate is NULL. -#}
{% macro escape_rate_rca_required(rate, threshold) -%}
    case when {{ rate }} is not null then {{ rate }} > {{ threshold }} end
{%- endmacro %}

{#- The body of an escape_rate_by_<slice> mart (slice: a text column of
    int_defects such as team or component). Defects only: incidents carry no
    team or component. Rows: (slice, service, release) for every group with a
    counted defect (release NULL for unattributed defects, as in
    release_escape_rate), roll-ups (slice, service, 'ALL'), (slice, 'ALL',
    'ALL') that sum the attributed rows only, and ('ALL', 'ALL', 'ALL'). A
    defect without the slice value is counted under 'unassigned'. -#}
{% macro escape_rate_by_slice(slice, defects, settings) -%}
with defects as (
    select
        coalesce({{ slice }}, 'unassigned') as slice_value,
        service,
        attributed_release as release,
        is_pre_release,
        is_escaped
    from {{ defects }}
    where {{ escape_rate_counted_defect() }}
),

settings as (
    select * from {{ settings }}
),

per_release as (
    select
        slice_value,
        service,
        release,
        {{ escape_rate_defect_counts() }}
    from defects
    group by slice_value, service, release
),

-- Every (slice, service) and every slice that has a row gets its roll-up,
-- even when all its defects are unattributed (then 0 / 0); the overall row
-- always exists.
rollup_keys as (
    select distinct slice_value, service from per_release
    union all
    select distinct slice_value, 'ALL' from per_release
    union all
    select 'ALL', 'ALL'
),

-- Roll-ups sum attributed counts only (settled detail 6).
attributed_rollups as (
    select
        case when grouping(slice_value) = 1 then 'ALL' else slice_value end as slice_value,
        case when grouping(service) = 1 then 'ALL' else service end as service,
        sum(pre_release_defects) as pre_release_defects,
        sum(escaped_defects) as escaped_defects
    from per_release
    where release is not null
    group by grouping sets ((slice_value, service), (slice_value), ())
),

rollups as (
    select
        k.slice_value,
        k.service,
        'ALL' as release,
        coalesce(r.pre_release_defects, 0) as pre_release_defects,
        coalesce(r.escaped_defects, 0) as escaped_defects
    from rollup_keys as k
    left join attributed_rollups as r
        on k.slice_value = r.slice_value and k.service = r.service
),

all_rows as (
    select * from per_release
    union all
    select * from rollups
),

final as (
    select
        a.slice_value as {{ slice }},
        a.service,
        a.release,
        cast(a.pre_release_defects as bigint) as pre_release_defects,
        cast(a.escaped_defects as bigint) as escaped_defects,
        {{ escape_rate('a.pre_release_defects', 'a.escaped_defects', '0') }} as defect_escape_rate
    from all_rows as a
)

select
    f.*,
    {{ escape_rate_rca_required('f.defect_escape_rate', 's.escape_rate_rca_threshold') }} as above_rca_threshold
from final as f
cross join settings as s
{%- endmacro %}
