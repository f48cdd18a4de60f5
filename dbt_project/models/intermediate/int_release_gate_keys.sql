-- One row per (service, release, target environment) the release gate
-- evaluates (METRICS.md settled detail 10), with the release's previous
-- release and code freeze.
with releases as (
    select * from {{ ref('stg_exports__releases') }}
    where service is not null and release is not null
),

defects as (
    select * from {{ ref('fct_defects') }}
    where service is not null and attributed_release is not null
),

incidents as (
    select * from {{ ref('fct_incidents') }}
    where service is not null and attributed_release is not null
),

deployments as (
    select * from {{ ref('fct_deployments') }}
    where environment = 'production' and served and release is not null
),

gate_rules as (
    select * from {{ source('raw', 'policy_gate_rules') }}
),

release_keys as (
    select service, release from releases
    union
    select service, attributed_release as release from defects
    union
    select service, attributed_release as release from incidents
),

first_production as (
    select service, release, min(finished_at) as first_production_at,
    from deployments
    group by service, release
),

-- The release order is planned_release_at, else the first production
-- deployment: version strings are never sorted as text.
positioned as (
    select
        k.service,
        k.release,
        r.code_freeze_at,
        r.planned_release_at,
        f.first_production_at,
        coalesce(r.planned_release_at, f.first_production_at) as release_order_at,
    from release_keys as k
    left join releases as r on k.service = r.service and k.release = r.release
    left join first_production as f on k.service = f.service and k.release = f.release
),

-- Ties on the instant break on the release name only to stay deterministic.
previous as (
    select
        service,
        release,
        lag(release) over (partition by service order by release_order_at, release) as previous_release,
    from positioned
    where release_order_at is not null
),

environments as (
    select distinct environment from gate_rules where environment is not null
),

final as (
    select
        p.service,
        p.release,
        e.environment,
        pr.previous_release,
        p.code_freeze_at,
        p.planned_release_at,
        p.first_production_at,
    from positioned as p
    cross join environments as e
    left join previous as pr on p.service = pr.service and p.release = pr.release
)

select * from final
