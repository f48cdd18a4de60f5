-- METRICS.md "Duplicates, clusters, recurrence": one row per defect known at
-- the as-of (duplicates included), with its cluster and recurrence. Clusters
-- come from explicit duplicate links only until the clustering issue adds
-- pair-score edges (and marts.duplicate_candidates).
with defects as (
    select defect_id, service, created_at, resolution,
    from {{ ref('fct_defects') }}
),

clusters as (
    select * from {{ ref('int_defect_link_clusters') }}
),

final as (
    select
        d.defect_id,
        c.cluster_id,
        c.cluster_size,
        c.is_recurrence,
        c.recurrence_of,
        d.service,
        d.created_at,
        d.resolution,
        case when c.cluster_size > 1 then 'explicit_link' else 'singleton' end as cluster_method,
    from defects as d
    inner join clusters as c on d.defect_id = c.defect_id
)

select * from final
