-- The newest version of a deployment exported in several files wins.
with deployments as (
    {{ first_row_per(
        source('raw', 'deployments'),
        'trim(deployment_id)',
        'source_updated_at desc nulls last, source_file desc, source_row desc'
    ) }}
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
        replace(replace(lower({{ text('d.status') }}), '-', '_'), ' ', '_') as status,
        {{ text('d.commit_sha') }} as commit_sha,
        coalesce(d.is_hotfix, false) as is_hotfix,
        {{ text('d.rollback_of') }} as rollback_of,
        d.source_file,
        d.source_row
    from deployments as d
    left join vocabulary as env
        on
            d.source_system = env.source and env.vocabulary = 'environment'
            and env.match_key = {{ match_key('d.environment') }}
)

select * from mapped
