{{ config(materialized="table") }}
-- Defect clusters and recurrence (docs/metrics.md "Duplicates, clusters,
-- recurrence"): explicit duplicate links plus candidate pairs scoring at or
-- above policy.duplicate_threshold, connected. Every defect known at the
-- as-of takes part, duplicates included; a link to a defect that is not known
-- at the as-of is ignored.
with defects as (
    select
        defect_id,
        created_at,
        resolution,
        resolved_at_as_of,
        duplicate_of
    from {{ ref('int_defects') }}
),

links as (
    select
        defect_id,
        linked_defect_id,
        link_type
    from {{ ref('stg_exports__defect_links') }}
),

similar_pairs as (
    select
        defect_id,
        candidate_id
    from {{ ref('int_defect_candidate_pairs') }}
    where above_threshold
),

-- Both sources name the same fact in either direction ("A duplicates B",
-- "B is duplicated by A", duplicate_of; duplicate-pair files have no
-- consistent direction), so the edges are undirected. Only duplicate-type
-- links join a cluster ("relates to", "blocks", ... do not).
directed_edges as (
    select
        defect_id as from_id,
        duplicate_of as to_id
    from defects
    where duplicate_of is not null
    union all
    select
        defect_id,
        linked_defect_id
    from links
    where link_type like '%duplicate%'
),

known_edges as (
    select
        e.from_id,
        e.to_id,
        'explicit_link' as edge_kind
    from directed_edges as e
    inner join defects as f on e.from_id = f.defect_id
    inner join defects as t on e.to_id = t.defect_id
    where e.from_id <> e.to_id
    union all
    select
        defect_id,
        candidate_id,
        'similarity'
    from similar_pairs
),

-- read by the recursive CTE, which sqlfluff cannot parse
edges as (  -- noqa: ST03
    select
        from_id,
        to_id
    from known_edges
    union
    select
        to_id,
        from_id
    from known_edges
),

-- Connected components by min-label propagation with hooking and
-- shortcutting (Shiloach-Vishkin style), so that long chains - a common
-- stack trace gives a chain of sorted-neighbourhood pairs thousands long -
-- take about log(size) rounds instead of one round per hop. Every linked
-- defect starts with the smallest id among itself and its neighbours. Each
-- round, for every edge u - v, v is offered u's label (propagation) and the
-- defect named by v's label is offered u's label (hooking one label tree onto
-- the other); every defect is also offered its label's label (shortcut). A
-- defect keeps the smallest offer when it beats its label. A label is always a
-- defect of the same component and only ever decreases, so when a round
-- changes nothing every edge joins equal labels and each component carries
-- its smallest defect_id. `using key` keeps one row (the latest label) per
-- defect; `recurring.labels` is that keyed table.
components as (
    with recursive labels (defect_id, cluster_id) using key (defect_id) as (
        select from_id, least(from_id, min(to_id)),
        from edges
        group by from_id
        union
        select o.defect_id, min(o.label),
        from (
            select e.to_id as defect_id, u.cluster_id as label,
            from edges as e
            inner join recurring.labels as u on e.from_id = u.defect_id
            union all
            select v.cluster_id, u.cluster_id,
            from edges as e
            inner join recurring.labels as u on e.from_id = u.defect_id
            inner join recurring.labels as v on e.to_id = v.defect_id
            where u.cluster_id < v.cluster_id
            union all
            select d.defect_id, l.cluster_id,
            from recurring.labels as d
            inner join recurring.labels as l on d.cluster_id = l.defect_id
            where l.cluster_id < d.cluster_id
        ) as o
        inner join recurring.labels as own on o.defect_id = own.defect_id
        group by o.defect_id
        having min(o.label) < min(own.cluster_id)
    )
    select * from labels
),

-- How a cluster was formed: the kinds of edge inside it.
cluster_methods as (
    select
        c.cluster_id,
        case
            when bool_or(e.edge_kind = 'explicit_link') and bool_or(e.edge_kind = 'similarity')
                then 'explicit_link+similarity'
            when bool_or(e.edge_kind = 'explicit_link') then 'explicit_link'
            else 'similarity'
        end as cluster_method
    from known_edges as e
    inner join components as c on e.from_id = c.defect_id
    group by c.cluster_id
),

clustered as (
    select
        d.*,
        coalesce(c.cluster_id, d.defect_id) as cluster_id
    from defects as d
    left join components as c on d.defect_id = c.defect_id
),

sized as (
    select
        *,
        count(*) over (partition by cluster_id) as cluster_size
    from clustered
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
        last_value(fixed_defect_id ignore nulls) over (
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
        case when s.cluster_size = 1 then 'singleton' else m.cluster_method end as cluster_method
    from sized as s
    left join earlier_fixes as e on s.defect_id = e.defect_id
    left join cluster_methods as m on s.cluster_id = m.cluster_id
)

select * from final
