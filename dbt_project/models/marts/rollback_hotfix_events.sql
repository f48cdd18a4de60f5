-- One row per failed production deployment (curriculum module 6): how it was
-- rolled back and hotfixed, how long each took, and whether a pre-release
-- test had already failed on the same stack fingerprint (detection bypassed).
with baselined as (
    select * from {{ ref('int_deployment_baselines') }}
),

all_deployments as (
    select * from {{ ref('int_deployments') }}
),

fingerprints as (
    select * from {{ ref('int_defect_stack_fingerprints') }}
),

incidents as (
    select * from {{ ref('int_incidents') }}
    where attributed_deployment_id is not null
),

incident_links as (
    select * from {{ ref('int_incident_defect_links') }}
),

test_cases as (
    select * from {{ ref('fct_test_cases') }}
),

-- A deployment is rolled back when its status says so or a rollback names
-- it (canonical CSV may carry only one of the two); the first served
-- rollback naming it is its rollback.
-- Numbered in a CTE and filtered after it rather than with qualify, which
-- Spark lacks (issue 14).
rollback_candidates as (
    select
        rollback_of as deployment_id,
        deployment_id as rollback_deployment_id,
        finished_at as rolled_back_at,
        row_number() over (
            partition by rollback_of
            order by finished_at, started_at nulls first, deployment_id
        ) as rollback_rank
    from baselined
    where rollback_of is not null
),

rollbacks as (
    select
        deployment_id,
        rollback_deployment_id,
        rolled_back_at
    from rollback_candidates
    where rollback_rank = 1
),

hotfixes as (
    select * from baselined
    where is_hotfix_deployment
),

failed as (
    select
        b.*,
        b.status = 'rolled_back' or r.deployment_id is not null as is_rolled_back,
        r.rollback_deployment_id,
        r.rolled_back_at
    from baselined as b
    left join rollbacks as r on b.deployment_id = r.deployment_id
    where b.is_failed or r.deployment_id is not null
),

-- The hotfix of a failure: the first hotfix of the same baseline release
-- finished after it.
hotfix_candidates as (
    select
        f.deployment_id,
        h.deployment_id as hotfix_deployment_id,
        h.release as hotfix_release,
        h.finished_at as hotfixed_at,
        row_number() over (
            partition by f.deployment_id
            order by h.finished_at, h.started_at nulls first, h.deployment_id
        ) as hotfix_rank
    from failed as f
    inner join hotfixes as h
        on
            f.service = h.service
            and f.baseline_release = h.baseline_release
            and f.finished_at < h.finished_at
),

hotfix_of as (
    select
        deployment_id,
        hotfix_deployment_id,
        hotfix_release,
        hotfixed_at
    from hotfix_candidates
    where hotfix_rank = 1
),

-- Defects behind a failure: production defects attributed to its release
-- reported once it had finished, and defects linked by incidents attributed
-- to it (duplicates included: they carry the same stack).
linked_defects as (
    select
        f.deployment_id,
        x.defect_id,
        x.stack_fingerprint
    from failed as f
    inner join fingerprints as x
        on
            f.service = x.service
            and f.release = x.attributed_release
            and x.environment = 'production'
            and f.finished_at <= x.created_at
    union
    select
        f.deployment_id,
        x.defect_id,
        x.stack_fingerprint
    from failed as f
    inner join incidents as i on f.deployment_id = i.attributed_deployment_id
    inner join incident_links as l on i.incident_id = l.incident_id
    inner join fingerprints as x on l.linked_defect_id = x.defect_id
),

-- Test results reach a release through the commit its deployments carried
-- (any environment). A case without executed_at ran on the release's own
-- commit, so it is taken as pre-release.
release_commits as (
    select distinct
        service,
        release,
        lower(commit_sha) as commit_sha
    from all_deployments
    where commit_sha is not null and release is not null
),

pre_release_tests as (
    select
        f.deployment_id,
        t.status,
        t.fingerprint
    from failed as f
    inner join release_commits as c on f.service = c.service and f.release = c.release
    inner join test_cases as t on c.commit_sha = t.commit_sha
    where t.executed_at is null or t.executed_at <= coalesce(f.started_at, f.finished_at)
),

linked_counts as (
    select
        deployment_id,
        count(distinct defect_id) as linked_defects
    from linked_defects
    group by deployment_id
),

linked_fingerprints as (
    select distinct
        deployment_id,
        stack_fingerprint
    from linked_defects
    where stack_fingerprint is not null
),

test_counts as (
    select
        t.deployment_id,
        count(*) as pre_release_test_cases,
        count(l.deployment_id) filter (where t.status in ('failed', 'error')) as matching_failed_tests
    from pre_release_tests as t
    left join linked_fingerprints as l
        on t.deployment_id = l.deployment_id and t.fingerprint = l.stack_fingerprint
    group by t.deployment_id
),

final as (
    select
        f.deployment_id,
        f.service,
        f.release,
        f.segment,
        f.status,
        f.is_hotfix,
        f.finished_at,
        cast(f.attributed_incidents as bigint) as attributed_incidents,
        f.is_rolled_back,
        f.rollback_deployment_id,
        f.rolled_back_at,
        case
            when f.rolled_back_at >= f.finished_at
                then {{ hours_between('f.finished_at', 'f.rolled_back_at') }}
        end as hours_to_rollback,
        f.baseline_release,
        h.hotfix_deployment_id,
        h.hotfix_release,
        h.hotfixed_at,
        {{ hours_between('f.finished_at', 'h.hotfixed_at') }} as hours_to_hotfix,
        cast(coalesce(lc.linked_defects, 0) as bigint) as linked_defects,
        cast(coalesce(tc.pre_release_test_cases, 0) as bigint) as pre_release_test_cases,
        cast(coalesce(tc.matching_failed_tests, 0) as bigint) as matching_failed_tests,
        -- unknown (NULL) when no test result of the release ran before it
        case when tc.pre_release_test_cases > 0 then tc.matching_failed_tests > 0 end as detection_bypassed
    from failed as f
    left join hotfix_of as h on f.deployment_id = h.deployment_id
    left join linked_counts as lc on f.deployment_id = lc.deployment_id
    left join test_counts as tc on f.deployment_id = tc.deployment_id
)

select * from final
