-- detection_resolution_by_environment is a full cube within each record_type
-- (settled detail 7): for n_detect, n_resolve and n_not_measurable,
--   ('ALL', 'ALL') = sum over (env, 'ALL') = sum over ('ALL', sev),
--   (env, 'ALL')   = sum over (env, sev),
--   ('ALL', sev)   = sum over (env, sev).
-- Returns one row per mismatching group.
with cube as (
    select * from {{ ref('detection_resolution_by_environment') }}
),

leaf as (
    select * from cube where environment <> 'ALL' and severity <> 'ALL'
),

expected as (
    -- ('ALL', 'ALL') from the per-environment roll-ups
    select record_type, 'ALL' as environment, 'ALL' as severity, 'sum of (env, ALL)' as via,
        sum(n_detect) as n_detect, sum(n_resolve) as n_resolve, sum(n_not_measurable) as n_not_measurable,
    from cube where environment <> 'ALL' and severity = 'ALL'
    group by record_type
    union all
    -- ('ALL', 'ALL') from the per-severity roll-ups
    select record_type, 'ALL', 'ALL', 'sum of (ALL, sev)',
        sum(n_detect), sum(n_resolve), sum(n_not_measurable),
    from cube where environment = 'ALL' and severity <> 'ALL'
    group by record_type
    union all
    -- (env, 'ALL') from the leaves
    select record_type, environment, 'ALL', 'sum of (env, sev)',
        sum(n_detect), sum(n_resolve), sum(n_not_measurable),
    from leaf
    group by record_type, environment
    union all
    -- ('ALL', sev) from the leaves
    select record_type, 'ALL', severity, 'sum of (env, sev)',
        sum(n_detect), sum(n_resolve), sum(n_not_measurable),
    from leaf
    group by record_type, severity
),

-- every roll-up row must be explained by its parts, and vice versa
rollups as (
    select * from cube where environment = 'ALL' or severity = 'ALL'
)

select
    coalesce(e.record_type, r.record_type) as record_type,
    coalesce(e.environment, r.environment) as environment,
    coalesce(e.severity, r.severity) as severity,
    e.via,
    e.n_detect as expected_n_detect, r.n_detect,
    e.n_resolve as expected_n_resolve, r.n_resolve,
    e.n_not_measurable as expected_n_not_measurable, r.n_not_measurable,
from expected as e
full outer join rollups as r
    on e.record_type = r.record_type
    and e.environment = r.environment
    and e.severity = r.severity
where r.record_type is null
    or e.record_type is null
    or e.n_detect <> r.n_detect
    or e.n_resolve <> r.n_resolve
    or e.n_not_measurable <> r.n_not_measurable
