-- One row per deployment finished at or before the as-of.
with deployments as (
    select * from {{ ref('int_deployments') }}
),

final as (
    select
        deployment_id,
        service,
        release,
        environment,
        segment,
        started_at,
        finished_at,
        week_start,
        status,
        served,
        is_hotfix,
        rollback_of,
        commit_sha,
        source_file,
        source_row
    from deployments
)

select * from final
