{{ config(meta={"dagster": {"ref": {"name": "detection_resolution_by_environment"}}}) }}
-- The ('ALL', 'ALL') rows of detection_resolution_by_environment count the
-- records they come from: non-duplicate defects and all incidents known at
-- the as-of, with a non-negative time to detect (n_detect), a time to resolve
-- (n_resolve; defects fixed only) and no measurable time to detect
-- (n_not_measurable, negatives excluded). Also: every record_type that has
-- records has its ('ALL', 'ALL') row.
with records as (
    select
        'defect' as record_type,
        count(ttd_hours) as n_detect,
        count(ttr_hours) as n_resolve,
        count(*) filter (where ttd_not_measurable) as n_not_measurable,
    from {{ ref('int_defects') }}
    where not is_duplicate
    having count(*) > 0
    union all
    select
        'incident',
        count(ttd_hours),
        count(ttr_hours),
        count(*) filter (where ttd_not_measurable),
    from {{ ref('int_incidents') }}
    having count(*) > 0
),

totals as (
    select * from {{ ref('detection_resolution_by_environment') }}
    where environment = 'ALL' and severity = 'ALL'
)

select
    coalesce(r.record_type, t.record_type) as record_type,
    r.n_detect as expected_n_detect, t.n_detect,
    r.n_resolve as expected_n_resolve, t.n_resolve,
    r.n_not_measurable as expected_n_not_measurable, t.n_not_measurable,
from records as r
full outer join totals as t on r.record_type = t.record_type
where r.record_type is null
    or t.record_type is null
    or r.n_detect <> t.n_detect
    or r.n_resolve <> t.n_resolve
    or r.n_not_measurable <> t.n_not_measurable
