-- Rollbacks and hotfixes per (service, release) with ('ALL') roll-ups
-- (curriculum module 6), from rollback_hotfix_events.
with events as (
    select * from {{ ref('rollback_hotfix_events') }}
),

-- Served production deployments; hotfixes count against the regular
-- release they sit on.
baselined as (
    select * from {{ ref('int_deployment_baselines') }}
),

hotfix_counts as (
    select
        service,
        baseline_release as release,
        count(*) as hotfix_deployments
    from baselined
    where is_hotfix_deployment and baseline_release is not null
    group by service, baseline_release
),

-- One row per served production release; its events and hotfixes attach.
-- (A deployment without a release has no row to count against.)
release_keys as (
    select distinct
        service,
        release
    from baselined
    where release is not null
),

keyed as (
    select
        k.service,
        k.release,
        coalesce(h.hotfix_deployments, 0) as hotfix_deployments,
        e.deployment_id,
        e.is_rolled_back,
        e.rollback_deployment_id,
        e.hours_to_rollback,
        e.hotfix_deployment_id,
        e.hours_to_hotfix,
        e.detection_bypassed,
        -- a release's hotfix count once, on its first row
        row_number() over (partition by k.service, k.release order by e.deployment_id) = 1 as first_row
    from release_keys as k
    left join events as e on k.service = e.service and k.release = e.release
    left join hotfix_counts as h on k.service = h.service and k.release = h.release
),

aggregated as (
    select
        case when grouping(service) = 1 then 'ALL' else service end as service,
        case when grouping(release) = 1 then 'ALL' else release end as release,
        count(distinct {{ dbt.concat(['service', "'|'", 'release']) }}) as releases,
        count(deployment_id) as failed_deployments,
        count(deployment_id) filter (where is_rolled_back) as rolled_back_deployments,
        count(rollback_deployment_id) as rollbacks,
        sum(hotfix_deployments) filter (where first_row) as hotfix_deployments,
        count(hotfix_deployment_id) as hotfixed_failures,
        count(hours_to_rollback) as n_rollback,
        {{ percentile_cont('hours_to_rollback', 0.5) }} as median_hours_to_rollback,
        max(hours_to_rollback) as max_hours_to_rollback,
        count(hours_to_hotfix) as n_hotfix,
        {{ percentile_cont('hours_to_hotfix', 0.5) }} as median_hours_to_hotfix,
        max(hours_to_hotfix) as max_hours_to_hotfix,
        count(detection_bypassed) as failures_with_tests,
        count(*) filter (where detection_bypassed) as bypassed_failures
    from keyed
    group by grouping sets ((service, release), (service), ())
),

final as (
    select
        service,
        release,
        cast(releases as bigint) as releases,
        cast(failed_deployments as bigint) as failed_deployments,
        cast(rolled_back_deployments as bigint) as rolled_back_deployments,
        cast(rollbacks as bigint) as rollbacks,
        cast(coalesce(hotfix_deployments, 0) as bigint) as hotfix_deployments,
        cast(hotfixed_failures as bigint) as hotfixed_failures,
        cast(n_rollback as bigint) as n_rollback,
        median_hours_to_rollback,
        max_hours_to_rollback,
        cast(n_hotfix as bigint) as n_hotfix,
        median_hours_to_hotfix,
        max_hours_to_hotfix,
        cast(failures_with_tests as bigint) as failures_with_tests,
        cast(bypassed_failures as bigint) as bypassed_failures,
        case when failures_with_tests > 0 then bypassed_failures > 0 end as detection_bypassed
    from aggregated
)

select * from final
