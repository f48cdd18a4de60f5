{{ config(materialized="table") }}
-- Defect clusters and recurrence (docs/metrics.md "Duplicates, clusters,
-- recurrence"): the clusters of int_defect_cluster_components (explicit
-- duplicate links plus candidate pairs scoring at or above
-- policy.duplicate_threshold, connected) and, per defect, the earlier fix of
-- its cluster it recurs. Every defect known at the as-of takes part,
-- duplicates included.
with defects as (
    select
        defect_id,
        created_at,
        resolution,
        resolved_at_as_of
    from {{ ref('int_defects') }}
),

components as (
    select * from {{ ref('int_defect_cluster_components') }}
),

sized as (
    select
        d.*,
        c.cluster_id,
        c.cluster_size,
        c.cluster_method
    from defects as d
    inner join components as c on d.defect_id = c.defect_id
),

-- The latest earlier fix of the same cluster, in one ordered pass per
-- cluster (no pairing of members): each member gives a `created` event at
-- created_at and, when resolved `fixed` at or before the as-of, a `fixed`
-- event at resolved_at_as_of. At one instant `created` sorts first (a fix at
-- the creation instant is not earlier) and fixes sort by defect_id
-- descending, so the last fix seen before a `created` event is the latest
-- earlier fix, ties going to the smallest defect_id.
events as (
    select
        cluster_id,
        defect_id,
        created_at as event_at,
        0 as event_order,
        cast(null as {{ dbt.type_string() }}) as fixed_defect_id
    from sized
    where cluster_size > 1
    union all
    select
        cluster_id,
        defect_id,
        resolved_at_as_of,
        1,
        -- this branch's fixed_defect_id: the member itself
        defect_id  -- noqa: AL08
    from sized
    where
        cluster_size > 1
        and resolution = 'fixed'
        and resolved_at_as_of is not null
),

latest_fix as (
    select
        *,
        {{ last_value_ignore_nulls('fixed_defect_id') }} over (
            partition by cluster_id
            order by event_at asc, event_order asc, fixed_defect_id desc
            rows between unbounded preceding and 1 preceding
        ) as previous_fix
    from events
),

-- A defect resolved before it was created (bad data) must not recur itself:
-- then the fix before its own fix event is the one.
earlier_fixes as (
    select
        c.defect_id,
        case when c.previous_fix = c.defect_id then f.previous_fix else c.previous_fix end as fixed_defect_id
    from latest_fix as c
    left join latest_fix as f
        on
            c.previous_fix = c.defect_id
            and c.defect_id = f.defect_id
            and f.event_order = 1
    where c.event_order = 0
),

final as (
    select
        s.defect_id,
        s.cluster_id,
        cast(s.cluster_size as bigint) as cluster_size,
        e.fixed_defect_id is not null as is_recurrence,
        e.fixed_defect_id as recurrence_of,
        s.cluster_method
    from sized as s
    left join earlier_fixes as e on s.defect_id = e.defect_id
)

select * from final
