-- Production deployments finished at the as-of, with what change failure rate,
-- recovery time and lead time need (docs/metrics.md "Change failure rate",
-- "Delivery metrics", settled details 3 and 9).
with deployments as (
    select * from {{ ref('int_deployments') }}
    where environment = 'production'
),

incidents as (
    select * from {{ ref('int_incidents') }}
),

commits as (
    select * from {{ ref('stg_exports__commits') }}
),

-- Incidents detected at or before the as-of, attributed explicitly or by window.
incident_counts as (
    select
        attributed_deployment_id as deployment_id,
        count(*) as attributed_incidents
    from incidents
    where attributed_deployment_id is not null
    group by attributed_deployment_id
),

-- Deployments another served deployment rolled back (`rollback_of`): a CSV
-- export may mark the rollback without setting the rolled-back one's status.
rolled_back_by as (
    select distinct rollback_of as deployment_id
    from deployments
    where rollback_of is not null and served
),

flagged as (
    select
        d.deployment_id,
        d.service,
        d.release,
        d.segment,
        d.started_at,
        d.finished_at,
        d.week_start,
        d.status,
        d.served,
        d.is_hotfix,
        d.rollback_of,
        lower(d.commit_sha) as commit_sha,
        coalesce(i.attributed_incidents, 0) as attributed_incidents,
        -- a rolled_back deployment served and is the failed one (settled detail 9);
        -- `failed` deployments never served and are no production deployment
        d.served and (
            d.status = 'rolled_back' or r.deployment_id is not null or coalesce(i.attributed_incidents, 0) > 0
        ) as is_failed
    from deployments as d
    left join incident_counts as i on d.deployment_id = i.deployment_id
    left join rolled_back_by as r on d.deployment_id = r.deployment_id
),

-- Served production deployments in order; ties on finished_at break on
-- started_at, then deployment_id (settled detail 3).
served_ordered as (
    select
        deployment_id,
        lead(finished_at) over (
            partition by service
            order by finished_at, started_at nulls first, deployment_id
        ) as next_served_finished_at,
        -- without commit parents, the commits a deployment first ships are its
        -- own commit_sha when no earlier served production deployment of the
        -- service carried it
        row_number() over (
            partition by service, commit_sha
            order by finished_at, started_at nulls first, deployment_id
        ) = 1 and commit_sha is not null as first_ships_commit
    from flagged
    where served
),

final as (
    select
        f.*,
        coalesce(s.first_ships_commit, false) as first_ships_commit,
        case when f.is_failed then s.next_served_finished_at end as recovered_at,
        case
            when f.is_failed
                then {{ hours_between('f.finished_at', 's.next_served_finished_at') }}
        end as recovery_hours,
        case
            when s.first_ships_commit and c.committed_at <= f.finished_at
                then {{ hours_between('c.committed_at', 'f.finished_at') }}
        end as lead_time_hours
    from flagged as f
    left join served_ordered as s on f.deployment_id = s.deployment_id
    left join commits as c on s.first_ships_commit and f.commit_sha = c.sha
)

select * from final
