-- Defects known at the as-of, with release attribution and time to detect / resolve.
with defects as (
    select * from {{ ref('stg_exports__defects') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

deployments as (
    select * from {{ ref('int_deployments') }}
    where served
),

latest_per_instant as (
    {{ latest_deployment_per_instant('deployments') }}
),

environments as (
    select * from {{ ref('stg_policy__environments') }}
),

first_served as (
    select
        service,
        release,
        environment,
        min(finished_at) as first_finished_at
    from deployments
    group by service, release, environment
),

known as (
    select
        d.*,
        case when d.resolved_at <= a.as_of then d.resolved_at end as resolved_at_as_of,
        coalesce(d.resolution = 'duplicate', false) as is_duplicate
    from defects as d
    cross join as_of as a
    where d.created_at <= a.as_of
),

-- Fallback attribution: the release of the latest served deployment of the
-- defect's service to its environment finished at or before created_at.
unattributed as (
    select
        defect_id,
        service,
        environment,
        created_at
    from known
    where found_in_release is null
),

fallback as (
    select
        defect_id,
        release,
        deployment_id
    from (
        {{ asof_join('unattributed', 'latest_per_instant', ['service', 'environment'], 'created_at', 'finished_at',
                     ['b.release', 'b.deployment_id']) }}
    ) as matched
),

attributed as (
    select
        k.*,
        coalesce(k.found_in_release, f.release) as attributed_release,
        case
            when k.found_in_release is not null then 'found_in_release'
            when f.release is not null then 'deployment'
            else 'unattributed'
        end as attribution_method,
        f.deployment_id as attributed_deployment_id
    from known as k
    left join fallback as f on k.defect_id = f.defect_id
),

timed as (
    select
        a.*,
        fs.first_finished_at as release_reached_environment_at,
        {{ hours_between('fs.first_finished_at', 'a.created_at') }} as ttd_hours_raw,
        case
            when a.resolution = 'fixed' and a.resolved_at_as_of is not null
                then {{ hours_between('a.created_at', 'a.resolved_at_as_of') }}
        end as ttr_hours
    from attributed as a
    left join first_served as fs
        on
            a.service = fs.service
            and a.attributed_release = fs.release
            and a.environment = fs.environment
),

-- An environment the policy does not list (`unknown`, an unmapped name) is
-- neither pre-release nor an escape.
final as (
    select
        -- `exclude` (star_except) names a column of t
        t.* {{ star_except() }} (ttd_hours_raw),  -- noqa: RF02
        case when t.ttd_hours_raw >= 0 then t.ttd_hours_raw end as ttd_hours,
        t.ttd_hours_raw is null as ttd_not_measurable,
        t.ttd_hours_raw < 0 as ttd_negative,
        coalesce(e.is_pre_release, false) as is_pre_release,
        t.environment = 'production' as is_escaped
    from timed as t
    left join environments as e on t.environment = e.environment
)

select * from final
