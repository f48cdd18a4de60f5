-- release_escape_rate roll-ups (settled detail 6): exactly one ('ALL', 'ALL')
-- row; it equals the sum of the (service, 'ALL') rows; each (service, 'ALL')
-- row equals the sum of that service's attributed (service, release) rows
-- (unattributed rows, release NULL, are not summed); every service that has a
-- row has its (service, 'ALL') row. Returns one row per mismatch.
with rates as (
    select * from {{ ref('release_escape_rate') }}
),

overall as (
    select * from rates where service = 'ALL' and release = 'ALL'
),

service_rollups as (
    select * from rates where service <> 'ALL' and release = 'ALL'
),

attributed as (
    select * from rates where service <> 'ALL' and release is not null and release <> 'ALL'
),

overall_count as (
    select 'overall row count' as check_name, cast(null as varchar) as service,
        cast(1 as bigint) as expected, cast(count(*) as bigint) as actual
    from overall
    having count(*) <> 1
),

overall_sums as (
    select
        'overall = sum of service roll-ups' as check_name,
        'ALL' as service,
        s.total as expected,
        o.total as actual,
    from (
        select
            coalesce(sum(pre_release_defects), 0) || '/' || coalesce(sum(escaped_defects), 0)
                || '/' || coalesce(sum(escaped_incidents), 0) as total
        from service_rollups
    ) as s
    cross join (
        select pre_release_defects || '/' || escaped_defects || '/' || escaped_incidents as total
        from overall
    ) as o
    where s.total is distinct from o.total
),

service_sums as (
    select
        'service roll-up = sum of its releases' as check_name,
        r.service,
        coalesce(sum(a.pre_release_defects), 0) || '/' || coalesce(sum(a.escaped_defects), 0)
            || '/' || coalesce(sum(a.escaped_incidents), 0) as expected,
        any_value(r.pre_release_defects || '/' || r.escaped_defects || '/' || r.escaped_incidents) as actual,
    from service_rollups as r
    left join attributed as a on r.service = a.service
    group by r.service
    having expected is distinct from actual
),

missing_rollups as (
    select distinct
        'service without roll-up row' as check_name,
        service,
        'ALL' as expected,
        cast(null as varchar) as actual,
    from rates
    where service <> 'ALL'
        and service not in (select service from service_rollups)
)

select check_name, service, cast(expected as varchar) as expected, cast(actual as varchar) as actual
from overall_count
union all
select check_name, service, expected, actual from overall_sums
union all
select check_name, service, expected, actual from service_sums
union all
select check_name, service, expected, actual from missing_rollups
