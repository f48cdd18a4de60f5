-- docs/metrics.md "Defect escape rate" and settled detail 6; the definitions are
-- the macros in macros/escape_rate.sql, shared with escape_rate_by_<slice>.
with defects as (
    select * from {{ ref('int_defects') }}
    where {{ escape_rate_counted_defect() }}
),

incidents as (
    select * from {{ ref('int_incidents') }}
    where environment = 'production'
),

links as (
    select * from {{ ref('int_incident_defect_links') }}
),

releases as (
    select * from {{ ref('stg_exports__releases') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
),

defect_counts as (
    select
        service,
        attributed_release as release,
        {{ escape_rate_defect_counts() }}
    from defects
    group by service, attributed_release
),

-- An incident that links a defect already counted as escaped for the same
-- (service, release) is the same escape, not a second one.
escaped_ids as (
    select
        defect_id,
        service,
        attributed_release as release
    from defects
    where is_escaped
),

incident_counts as (
    select
        i.service,
        i.attributed_release as release,
        count(*) as escaped_incidents
    from incidents as i
    where
        not exists (
            select 1
            from links as l
            inner join escaped_ids as e on l.counted_defect_id = e.defect_id
            where
                l.incident_id = i.incident_id
                and e.service = i.service
                and e.release is not distinct from i.attributed_release
        )
    group by i.service, i.attributed_release
),

release_keys as (
    select
        service,
        release
    from releases
    union
    select
        service,
        release
    from defect_counts
    union
    select
        service,
        release
    from incident_counts
),

per_release as (
    select
        k.service,
        k.release,
        coalesce(d.pre_release_defects, 0) as pre_release_defects,
        coalesce(d.escaped_defects, 0) as escaped_defects,
        coalesce(i.escaped_incidents, 0) as escaped_incidents,
        r.rca_link
    from release_keys as k
    left join defect_counts as d
        on k.service = d.service and k.release is not distinct from d.release
    left join incident_counts as i
        on k.service = i.service and k.release is not distinct from i.release
    left join releases as r
        on k.service = r.service and k.release = r.release
),

-- Roll-ups sum attributed counts only (settled detail 6).
rollups as (
    select
        case when grouping(service) = 1 then 'ALL' else service end as service,
        'ALL' as release,
        coalesce(sum(pre_release_defects), 0) as pre_release_defects,
        coalesce(sum(escaped_defects), 0) as escaped_defects,
        coalesce(sum(escaped_incidents), 0) as escaped_incidents,
        cast(null as {{ type_text() }}) as rca_link
    from per_release
    where release is not null
    group by grouping sets ((service), ())
),

-- Every service gets its roll-up row, even one with only unattributed records.
service_rollups as (
    select
        s.service,
        'ALL' as release,
        0 as pre_release_defects,
        0 as escaped_defects,
        0 as escaped_incidents,
        cast(null as {{ type_text() }}) as rca_link
    from (select distinct service from per_release) as s
    where s.service not in (select r.service from rollups as r)
),

all_rows as (
    select * from per_release
    union all
    select * from rollups
    union all
    select * from service_rollups
),

final as (
    select
        a.service,
        a.release,
        cast(a.pre_release_defects as bigint) as pre_release_defects,
        cast(a.escaped_defects as bigint) as escaped_defects,
        cast(a.escaped_incidents as bigint) as escaped_incidents,
        {{ escape_rate('a.pre_release_defects', 'a.escaped_defects', 'a.escaped_incidents') }}
            as escape_rate,
        a.rca_link
    from all_rows as a
)

select
    f.service,
    f.release,
    f.pre_release_defects,
    f.escaped_defects,
    f.escaped_incidents,
    f.escape_rate,
    {{ escape_rate_rca_required('f.escape_rate', 's.escape_rate_rca_threshold') }} as rca_required,
    f.rca_link
from final as f
cross join settings as s
