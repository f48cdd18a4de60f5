-- Defect clusters from explicit duplicate links, and recurrence (METRICS.md
-- "Duplicates, clusters, recurrence"), until the clustering issue adds
-- pair-score edges. Every defect known at the as-of takes part, duplicates
-- included; a link to a defect that is not known at the as-of is ignored.
with defects as (
    select defect_id, created_at, resolution, resolved_at_as_of, duplicate_of,
    from {{ ref('int_defects') }}
),

links as (
    select defect_id, linked_defect_id, link_type,
    from {{ ref('stg_exports__defect_links') }}
),

-- Both sources name the same fact in either direction ("A duplicates B",
-- "B is duplicated by A", duplicate_of; duplicate-pair files have no
-- consistent direction), so the edges are undirected. Only duplicate-type
-- links join a cluster ("relates to", "blocks", ... do not).
directed_edges as (
    select defect_id as from_id, duplicate_of as to_id
    from defects
    where duplicate_of is not null
    union all
    select defect_id, linked_defect_id
    from links
    where link_type like '%duplicate%'
),

known_edges as (
    select e.from_id, e.to_id,
    from directed_edges as e
    inner join defects as f on e.from_id = f.defect_id
    inner join defects as t on e.to_id = t.defect_id
    where e.from_id <> e.to_id
),

edges as (
    select from_id, to_id from known_edges
    union
    select to_id, from_id from known_edges
),

-- Every (node, node it can reach). `union` (not `union all`) drops pairs
-- already found, so a cycle adds nothing new and the recursion stops once no
-- new pair appears: at most (component size)^2 pairs per component and
-- (component diameter + 1) iterations. Explicit-link components are small
-- (a report and its few duplicates), so this stays cheap; only linked
-- defects enter the recursion.
reachable as (
    with recursive walk as (
        select from_id as node, from_id as reached
        from edges
        union
        select w.node, e.to_id as reached
        from walk as w
        inner join edges as e on w.reached = e.from_id
    )
    select * from walk
),

components as (
    select node as defect_id, min(reached) as cluster_id,
    from reachable
    group by node
),

clustered as (
    select
        d.*,
        coalesce(c.cluster_id, d.defect_id) as cluster_id,
    from defects as d
    left join components as c on d.defect_id = c.defect_id
),

sized as (
    select
        *,
        count(*) over (partition by cluster_id) as cluster_size,
    from clustered
),

-- Earlier fixes of the same cluster: another member resolved `fixed` at or
-- before the as-of, strictly before this defect was created.
earlier_fixes as (
    select
        d.defect_id,
        f.defect_id as fixed_defect_id,
        row_number() over (
            partition by d.defect_id
            order by f.resolved_at_as_of desc, f.defect_id
        ) as fix_rank,
    from sized as d
    inner join sized as f
        on d.cluster_id = f.cluster_id
        and d.defect_id <> f.defect_id
    where d.cluster_size > 1
        and f.resolution = 'fixed'
        and f.resolved_at_as_of < d.created_at
),

final as (
    select
        s.defect_id,
        s.cluster_id,
        cast(s.cluster_size as bigint) as cluster_size,
        e.fixed_defect_id is not null as is_recurrence,
        e.fixed_defect_id as recurrence_of,
    from sized as s
    left join earlier_fixes as e
        on s.defect_id = e.defect_id
        and e.fix_rank = 1
)

select * from final
