-- The newest version of a deployment exported in several files wins.
with deployments as (
    {{ first_row_per(
        source('raw', 'deployments'),
        'trim(deployment_id)',
        'source_updated_at desc nulls last, source_file desc, source_row desc'
    ) }}
),

-- GitLab has no rolled-back status. Among the served GitLab deployments of one
-- service and environment in finished order, a deployment is a rollback when its
-- version (commit, else release) differs from the one running before it and was
-- first deployed there earlier than that one: A, B, A rolls B back; A, B, A, B
-- rolls forward. Inferred over every file of the build, so a rollback whose two
-- deployments came in two pulls is still one (DECISIONS.md, issue 15).
gitlab_served as (
    select
        source_file,
        source_row,
        {{ text('deployment_id') }} as deployment_id,
        {{ text('service') }} as service,
        {{ match_key('environment') }} as environment_key,
        coalesce({{ text('commit_sha') }}, {{ text('release') }}, '') as version,
        row_number() over (
            partition by {{ text('service') }}, {{ match_key('environment') }}
            order by finished_at, source_file, source_row
        ) as served_order
    from deployments
    where source_system = 'gitlab' and lower(trim(status)) in ('succeeded', 'rolled_back')
),

gitlab_first_seen as (
    select
        *,
        min(served_order) over (partition by service, environment_key, version) as version_first_order
    from gitlab_served
),

gitlab_steps as (
    select
        *,
        lag(deployment_id) over (partition by service, environment_key order by served_order) as previous_id,
        coalesce(
            version <> lag(version) over (partition by service, environment_key order by served_order)
            and version_first_order
            < lag(version_first_order) over (partition by service, environment_key order by served_order),
            false
        ) as is_rollback
    from gitlab_first_seen
),

gitlab_rollbacks as (
    select
        source_file,
        source_row,
        case when is_rollback then previous_id end as rollback_of,
        case
            when lead(is_rollback) over (partition by service, environment_key order by served_order)
                then 'rolled_back'
        end as status
    from gitlab_steps
),

vocabulary as (
    select * from {{ ref('stg_exports__vocabulary') }}
),

mapped as (
    select
        {{ text('d.deployment_id') }} as deployment_id,
        {{ text('d.service') }} as service,
        {{ text('d.release') }} as release,
        coalesce(env.canonical, trim(d.environment)) as environment,
        {{ text('d.environment') }} as environment_raw,
        env.canonical is null as environment_unmapped,
        coalesce(lower({{ text('d.segment') }}), 'full') as segment,
        d.started_at,
        d.finished_at,
        -- canonical statuses: succeeded | failed | rolled_back (spelling variants tolerated)
        coalesce(r.status, replace(replace(lower({{ text('d.status') }}), '-', '_'), ' ', '_')) as status,
        {{ text('d.commit_sha') }} as commit_sha,
        coalesce(d.is_hotfix, false) as is_hotfix,
        coalesce(r.rollback_of, {{ text('d.rollback_of') }}) as rollback_of,
        d.source_file,
        d.source_row
    from deployments as d
    left join vocabulary as env
        on
            d.source_system = env.source and env.vocabulary = 'environment'
            and env.match_key = {{ match_key('d.environment') }}
    left join gitlab_rollbacks as r
        on d.source_file = r.source_file and d.source_row = r.source_row
)

select * from mapped
