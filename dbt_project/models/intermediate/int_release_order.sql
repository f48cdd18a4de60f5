-- Every known release of a service with its place in the service's release
-- order: planned_release_at, else the first served production deployment
-- (docs/metrics.md settled detail 10). Version strings are never sorted as text.
-- Releases that were only deployed (hotfixes have no releases.csv row) are
-- included, because version skew counts them between a running release and
-- production's; the release gate evaluates the others (`is_gate_release`:
-- in releases.csv or attributed a defect or incident), and its previous
-- release is the previous one of those.
with releases as (
    select * from {{ ref('stg_exports__releases') }}
    where service is not null and release is not null
),

deployments as (
    select * from {{ ref('int_deployments') }}
    where served and service is not null and release is not null
),

defects as (
    select * from {{ ref('int_defects') }}
    where service is not null and attributed_release is not null
),

incidents as (
    select * from {{ ref('int_incidents') }}
    where service is not null and attributed_release is not null
),

release_keys as (
    select
        service,
        release,
        bool_or(is_gate_release) as is_gate_release
    from (
        select
            service,
            release,
            true as is_gate_release
        from releases
        union all
        select
            service,
            attributed_release,
            true
        from defects
        union all
        select
            service,
            attributed_release,
            true
        from incidents
        union all
        select
            service,
            release,
            false
        from deployments
    ) as known_releases
    group by service, release
),

first_production as (
    select
        service,
        release,
        min(finished_at) as first_production_at
    from deployments
    where environment = 'production'
    group by service, release
),

positioned as (
    select
        k.service,
        k.release,
        k.is_gate_release,
        r.code_freeze_at,
        r.planned_release_at,
        f.first_production_at,
        coalesce(r.planned_release_at, f.first_production_at) as release_order_at
    from release_keys as k
    left join releases as r on k.service = r.service and k.release = r.release
    left join first_production as f on k.service = f.service and k.release = f.release
),

-- Ties on the instant break on the release name only to stay deterministic
-- (as in int_release_gate_keys).
ordered as (
    select
        service,
        release,
        row_number() over (partition by service order by release_order_at, release) as release_position,
        lag(release) over (partition by service order by release_order_at, release) as previous_release
    from positioned
    where release_order_at is not null
),

gate_ordered as (
    select
        service,
        release,
        lag(release) over (partition by service order by release_order_at, release) as previous_gate_release
    from positioned
    where release_order_at is not null and is_gate_release
),

final as (
    select
        p.service,
        p.release,
        p.is_gate_release,
        p.code_freeze_at,
        p.planned_release_at,
        p.first_production_at,
        p.release_order_at,
        o.release_position,
        o.previous_release,
        g.previous_gate_release
    from positioned as p
    left join ordered as o on p.service = o.service and p.release = o.release
    left join gate_ordered as g on p.service = g.service and p.release = g.release
)

select * from final
