{#-
    An escape_rate_by_<slice> mart splits release_escape_rate's defect
    counts. For every row of release_escape_rate (unattributed rows with
    release NULL and the 'ALL' roll-ups included), the mart's rows with that
    (service, release) and a slice value other than 'ALL' sum to its
    pre_release_defects and escaped_defects; the mart's ('ALL', 'ALL', 'ALL')
    row equals its ('ALL', 'ALL') row; no slice row has a (service, release)
    that release_escape_rate lacks. Returns one row per mismatch.
-#}
{% test sums_to_release_escape_rate(model, slice_column) %}

with slices as (
    select * from {{ model }}
),

public as (
    select * from {{ ref('release_escape_rate') }}
),

split as (
    select
        service,
        release,
        sum(pre_release_defects) as pre_release_defects,
        sum(escaped_defects) as escaped_defects,
    from slices
    where {{ slice_column }} <> 'ALL'
    group by service, release
),

overall as (
    select service, release, pre_release_defects, escaped_defects,
    from slices
    where {{ slice_column }} = 'ALL'
),

compared as (
    select
        'sum over slice values' as check_name,
        coalesce(p.service, s.service) as service,
        coalesce(p.release, s.release) as release,
        p.pre_release_defects as expected_pre_release_defects,
        coalesce(s.pre_release_defects, 0) as pre_release_defects,
        p.escaped_defects as expected_escaped_defects,
        coalesce(s.escaped_defects, 0) as escaped_defects,
    from public as p
    full outer join split as s
        on p.service = s.service and p.release is not distinct from s.release
    union all
    select
        'overall row',
        coalesce(p.service, o.service),
        coalesce(p.release, o.release),
        p.pre_release_defects,
        o.pre_release_defects,
        p.escaped_defects,
        o.escaped_defects,
    from (select * from public where service = 'ALL' and release = 'ALL') as p
    full outer join overall as o
        on p.service = o.service and p.release = o.release
)

select *
from compared
where expected_pre_release_defects is distinct from pre_release_defects
    or expected_escaped_defects is distinct from escaped_defects

{% endtest %}
