-- docs/metrics.md "Duplicates, clusters, recurrence": one row per defect known at
-- the as-of (duplicates included), with its cluster and recurrence. Clusters
-- connect explicit duplicate links and candidate pairs at or above
-- policy.duplicate_threshold (int_defect_link_clusters).
with defects as (
    select
        defect_id,
        service,
        created_at,
        resolution
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
        c.cluster_method
    from defects as d
    inner join clusters as c on d.defect_id = c.defect_id
)

select * from final
