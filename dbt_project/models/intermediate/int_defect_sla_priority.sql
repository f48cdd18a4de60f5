-- SLA (METRICS.md "SLA") and priority score (METRICS.md "Priority score") per
-- defect known at the as-of, to be joined into fct_defects by defect_id.
-- Recurrence comes from explicit duplicate links (duplicate_of) until the
-- clustering issue lands: a cluster is a defect with every defect whose
-- duplicate_of chain leads to it.
with defects as (
    select
        defect_id, severity, created_at, resolution, resolved_at_as_of,
        duplicate_of, users_affected, has_workaround,
    from {{ ref('int_defects') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

sla as (
    select severity, sla_hours from {{ source('raw', 'policy_sla') }}
),

weights as (
    select severity, recurrence, users, no_workaround
    from {{ source('raw', 'policy_priority_weights') }}
),

-- Follow duplicate_of through known defects, at most 50 hops (a cycle stops there).
chain as (
    with recursive walk as (
        select defect_id, defect_id as node, duplicate_of as next_node, 0 as depth
        from defects
        union all
        select w.defect_id, w.next_node as node, d.duplicate_of as next_node, w.depth + 1 as depth
        from walk as w
        left join defects as d on w.next_node = d.defect_id
        where w.next_node is not null and w.next_node <> w.node and w.depth < 50
    )
    select * from walk
),

-- The root is the end of the chain; on a cycle, the smallest id met in the
-- second half of the walk (the same for every defect that reaches the cycle).
clusters as (
    select
        defect_id,
        case
            when max(depth) < 50 then arg_max(node, depth)
            else min(case when depth >= 25 then node end)
        end as cluster_root,
    from chain
    group by defect_id
),

-- A defect is a recurrence when another defect of its cluster was resolved
-- `fixed` (at or before the as-of) before it was created.
recurrence as (
    select
        c.defect_id,
        c.cluster_root,
        exists (
            select 1
            from clusters as c2
            inner join defects as f on c2.defect_id = f.defect_id
            where c2.cluster_root = c.cluster_root
                and c2.defect_id <> c.defect_id
                and f.resolution = 'fixed'
                and f.resolved_at_as_of < d.created_at
        ) as is_recurrence,
    from clusters as c
    inner join defects as d on c.defect_id = d.defect_id
),

cluster_recurrences as (
    select cluster_root, count(*) filter (where is_recurrence) as recurrences
    from recurrence
    group by cluster_root
),

measured as (
    select
        d.defect_id,
        s.sla_hours as sla_target_hours,
        {{ hours_between('d.created_at', 'coalesce(d.resolved_at_as_of, a.as_of)') }} as sla_elapsed_hours,
        r.is_recurrence,
        cr.recurrences,
        case d.severity when 'S1' then 1.0 when 'S2' then 0.66 when 'S3' then 0.33 when 'S4' then 0.0 end as sev,
        least(1.0, ln(1 + cr.recurrences) / ln(11)) as rec,
        least(1.0, log10(1 + coalesce(d.users_affected, 0)) / 6) as users,
        case when d.has_workaround then 0.0 else 1.0 end as no_workaround,
    from defects as d
    cross join as_of as a
    left join sla as s on d.severity = s.severity
    inner join recurrence as r on d.defect_id = r.defect_id
    inner join cluster_recurrences as cr on r.cluster_root = cr.cluster_root
),

final as (
    select
        m.defect_id,
        m.sla_target_hours,
        m.sla_elapsed_hours,
        m.sla_elapsed_hours > m.sla_target_hours as sla_breached,
        m.is_recurrence,
        m.recurrences,
        -- rounded to 4 decimals so the last floating-point digit of ln/log10
        -- cannot differ between machines
        round(100 * (
            w.severity * m.sev + w.recurrence * m.rec + w.users * m.users + w.no_workaround * m.no_workaround
        ), 4) as priority_score,
    from measured as m
    cross join weights as w
)

select * from final
