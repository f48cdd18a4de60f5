{{ config(meta={"dagster": {"ref": {"name": "release_segment_defects"}}}) }}
-- release_segment_defects: the ('ALL', 'ALL') row counts every non-duplicate
-- production defect with an attributed release exactly once, and equals the
-- sum of the release rows. Returns one row per mismatch.
with rows_ as (
    select * from {{ ref('release_segment_defects') }}
),

defects as (
    select count(*) as n
    from {{ ref('int_defects') }}
    where environment = 'production' and not is_duplicate and attributed_release is not null
),

overall as (
    select * from rows_ where service = 'ALL' and release = 'ALL'
),

releases as (
    select
        count(*) as releases,
        sum(production_defects) as production_defects,
        sum(defects_during_canary) as defects_during_canary,
        sum(defects_after_full) as defects_after_full,
    from rows_
    where release <> 'ALL'
)

select 'overall vs defects' as check_name, d.n as expected, o.production_defects as actual
from defects as d
left join overall as o on true
where o.production_defects is distinct from d.n
union all
select 'overall vs release rows', r.production_defects, o.production_defects
from releases as r
cross join overall as o
where r.production_defects <> o.production_defects
    or r.defects_during_canary <> o.defects_during_canary
    or r.defects_after_full <> o.defects_after_full
    or r.releases <> o.releases
