-- Served production deployments with the regular release each sits on, so a
-- hotfix can be tied to the release it fixes. A regular deployment is
-- neither a hotfix nor a rollback; its baseline is its own release. A hotfix
-- or a rollback sits on the latest regular release deployed before it.
-- A rollback that redeploys an older hotfix carries is_hotfix too: it is a
-- rollback, not a hotfix (`is_hotfix_deployment` false).
with deployments as (
    select * from {{ ref('int_delivery_deployments') }}
    where served
),

final as (
    select
        *,
        is_hotfix and rollback_of is null as is_hotfix_deployment,
        -- ties on finished_at break on started_at, then deployment_id (settled detail 3)
        {{ last_value_ignore_nulls('case when not is_hotfix and rollback_of is null then release end') }} over (
            partition by service
            order by finished_at, started_at nulls first, deployment_id
            rows between unbounded preceding and current row
        ) as baseline_release
    from deployments
)

select * from final
