-- Did the canary catch it? Production defects of each release by rollout
-- phase (while only the canary served vs after the full rollout) and by the
-- segment the defect was reported in (curriculum module 5).
with deployments as (
    select * from {{ ref('int_deployments') }}
    where environment = 'production' and served and release is not null
),

defects as (
    select * from {{ ref('int_defects') }}
    where environment = 'production' and not is_duplicate and attributed_release is not null
),

-- A rollback deployment re-deploys an older release: it is not that
-- release's rollout, so it neither starts a canary nor completes a rollout.
-- Blue and green are whole-fleet switches: they complete a rollout like full.
rollouts as (
    select
        service,
        release,
        min(finished_at) filter (where segment <> 'canary') as full_rollout_at
    from deployments
    where rollback_of is null
    group by service, release
),

-- Only a canary that finished before the full rollout is a canary phase.
canaries as (
    select
        d.service,
        d.release,
        min(d.finished_at) as canary_started_at,
        count(*) filter (where d.status = 'rolled_back') as canary_rollbacks
    from deployments as d
    left join rollouts as r on d.service = r.service and d.release = r.release
    where
        d.segment = 'canary'
        and d.rollback_of is null
        and (r.full_rollout_at is null or d.finished_at < r.full_rollout_at)
    group by d.service, d.release
),

release_keys as (
    select
        service,
        release
    from deployments
    union
    select
        service,
        attributed_release as release
    from defects
),

-- The phase is decided by when the defect was reported, not by its
-- `segment` column: a canary defect reported after the full rollout did not
-- stop the rollout. The segment columns keep where it was seen.
per_release as (
    select
        k.service,
        k.release,
        c.canary_started_at is not null as has_canary,
        c.canary_started_at,
        r.full_rollout_at,
        coalesce(c.canary_rollbacks, 0) as canary_rollbacks,
        count(d.defect_id) as production_defects,
        count(d.defect_id) filter (
            where d.created_at >= c.canary_started_at
            and (r.full_rollout_at is null or d.created_at < r.full_rollout_at)
        ) as defects_during_canary,
        count(d.defect_id) filter (where d.created_at >= r.full_rollout_at) as defects_after_full,
        count(d.defect_id) filter (where d.segment = 'canary') as defects_segment_canary,
        count(d.defect_id) filter (where d.segment = 'blue') as defects_segment_blue,
        count(d.defect_id) filter (where d.segment = 'green') as defects_segment_green,
        count(d.defect_id) filter (where d.segment = 'full') as defects_segment_full
    from release_keys as k
    left join canaries as c on k.service = c.service and k.release = c.release
    left join rollouts as r on k.service = r.service and k.release = r.release
    left join defects as d on k.service = d.service and k.release = d.attributed_release
    group by k.service, k.release, c.canary_started_at, r.full_rollout_at, c.canary_rollbacks
),

-- Roll-ups: the catch rate pools only releases that had a canary (a release
-- without one cannot have caught anything before its rollout).
aggregated as (
    select
        case when grouping(service) = 1 then 'ALL' else service end as service,
        case when grouping(release) = 1 then 'ALL' else release end as release,
        grouping(release) = 1 as is_rollup,
        min(canary_started_at) as canary_started_at,
        min(full_rollout_at) as full_rollout_at,
        count(*) as releases,
        count(*) filter (where has_canary) as canary_releases,
        sum(canary_rollbacks) as canary_rollbacks,
        sum(production_defects) as production_defects,
        sum(defects_during_canary) as defects_during_canary,
        sum(defects_after_full) as defects_after_full,
        sum(defects_during_canary) filter (where has_canary) as canaried_during,
        sum(defects_during_canary + defects_after_full) filter (where has_canary) as canaried_placed,
        sum(defects_segment_canary) as defects_segment_canary,
        sum(defects_segment_blue) as defects_segment_blue,
        sum(defects_segment_green) as defects_segment_green,
        sum(defects_segment_full) as defects_segment_full
    from per_release
    -- the empty grouping set gives the ('ALL', 'ALL') row even with no release: its sums are NULL
    group by grouping sets ((service, release), (service), ())
),

final as (
    select
        service,
        release,
        canary_releases > 0 as has_canary,
        case when not is_rollup then canary_started_at end as canary_started_at,
        case when not is_rollup then full_rollout_at end as full_rollout_at,
        case
            when not is_rollup
                then {{ hours_between('canary_started_at', 'full_rollout_at') }}
        end as canary_hours,
        cast(releases as bigint) as releases,
        cast(canary_releases as bigint) as canary_releases,
        cast(coalesce(canary_rollbacks, 0) as bigint) as canary_rollbacks,
        cast(coalesce(production_defects, 0) as bigint) as production_defects,
        cast(coalesce(defects_during_canary, 0) as bigint) as defects_during_canary,
        cast(coalesce(defects_after_full, 0) as bigint) as defects_after_full,
        cast(coalesce(production_defects - defects_during_canary - defects_after_full, 0) as bigint)
            as defects_outside_rollout,
        canaried_during / cast(nullif(canaried_placed, 0) as double) as canary_catch_rate,
        cast(coalesce(defects_segment_canary, 0) as bigint) as defects_segment_canary,
        cast(coalesce(defects_segment_blue, 0) as bigint) as defects_segment_blue,
        cast(coalesce(defects_segment_green, 0) as bigint) as defects_segment_green,
        cast(coalesce(defects_segment_full, 0) as bigint) as defects_segment_full
    from aggregated
)

select * from final
