-- Configuration-drift suspects (curriculum module 5): the same release of a
-- service served in two or more environments, and a defect cluster of that
-- release seen in only one of them. Identical code, different behaviour: the
-- environment is the suspect.
with deployments as (
    select * from {{ ref('int_deployments') }}
    where served and release is not null
),

-- Defects without a stack trace have no fingerprint and take no part:
-- titles are too generic to stand in for one (see DECISIONS.md).
fingerprints as (
    select * from {{ ref('int_defect_stack_fingerprints') }}
    where attributed_release is not null and stack_fingerprint is not null
),

environments as (
    select * from {{ ref('stg_policy__environments') }}
),

-- Environments in pipeline order; one the policy does not list sorts last.
deployed as (
    select distinct
        d.service,
        d.release,
        d.environment,
        e.rank as environment_rank
    from deployments as d
    left join environments as e on d.environment = e.environment
),

multi_environment as (
    select
        service,
        release,
        count(*) as environments_deployed_count,
        {{ ordered_listagg('environment', "';'", ['environment_rank is null', 'environment_rank', 'environment']) }}
            as environments_deployed
    from deployed
    group by service, release
    having count(*) >= 2
),

-- Only environments the release served in can be compared; duplicates
-- count as sightings (they take part in clustering).
sightings as (
    select
        f.service,
        f.attributed_release as release,
        f.stack_fingerprint as cluster_key,
        f.environment,
        f.defect_id,
        f.created_at,
        f.is_duplicate
    from fingerprints as f
    inner join deployed as d
        on
            f.service = d.service
            and f.attributed_release = d.release
            and f.environment = d.environment
),

clusters as (
    select
        service,
        release,
        cluster_key,
        min(environment) as environment_seen,
        count(distinct environment) as environments_seen,
        count(*) filter (where not is_duplicate) as defects,
        count(*) as reports,
        min(created_at) as first_seen_at,
        {{ ordered_listagg('defect_id', "';'", ['created_at', 'defect_id']) }} as defect_ids
    from sightings
    group by service, release, cluster_key
),

final as (
    select
        c.service,
        c.release,
        c.cluster_key,
        c.environment_seen,
        m.environments_deployed,
        cast(m.environments_deployed_count as bigint) as environments_deployed_count,
        cast(c.defects as bigint) as defects,
        cast(c.reports as bigint) as reports,
        c.first_seen_at,
        c.defect_ids
    from clusters as c
    inner join multi_environment as m on c.service = m.service and c.release = m.release
    where c.environments_seen = 1
)

select * from final
