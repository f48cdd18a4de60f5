{{ config(meta={"dagster": {"ref": {"name": "rollback_hotfix_summary"}}}) }}
-- rollback_hotfix_summary: the ('ALL', 'ALL') row holds every failed
-- deployment of rollback_hotfix_events (with a release) and every hotfix deployment of
-- int_deployment_baselines that sits on a release, once. Returns one row per
-- mismatch.
with overall as (
    select * from {{ ref('rollback_hotfix_summary') }}
    where service = 'ALL' and release = 'ALL'
),

events as (
    select
        count(*) as failed_deployments,
        count(rollback_deployment_id) as rollbacks,
        count(detection_bypassed) as failures_with_tests,
    from {{ ref('rollback_hotfix_events') }}
    where release is not null
),

hotfixes as (
    select count(*) as hotfix_deployments
    from {{ ref('int_deployment_baselines') }}
    where is_hotfix_deployment and baseline_release is not null
)

select 'failed deployments' as check_name, e.failed_deployments as expected, o.failed_deployments as actual
from events as e
left join overall as o on true
where o.failed_deployments is distinct from e.failed_deployments
union all
select 'rollbacks', e.rollbacks, o.rollbacks
from events as e
left join overall as o on true
where o.rollbacks is distinct from e.rollbacks
union all
select 'failures with tests', e.failures_with_tests, o.failures_with_tests
from events as e
left join overall as o on true
where o.failures_with_tests is distinct from e.failures_with_tests
union all
select 'hotfix deployments', h.hotfix_deployments, o.hotfix_deployments
from hotfixes as h
left join overall as o on true
where o.hotfix_deployments is distinct from h.hotfix_deployments
