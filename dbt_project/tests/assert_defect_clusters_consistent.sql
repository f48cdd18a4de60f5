{{ config(meta={"dagster": {"ref": {"name": "defect_clusters"}}}) }}
-- defect_clusters is consistent with itself (docs/metrics.md "Duplicates,
-- clusters, recurrence"): cluster_size is the number of rows of the cluster,
-- cluster_id is its earliest member (created_at, then defect_id), and
-- recurrence_of is another defect of the same cluster resolved `fixed` at or
-- before the as-of, strictly before the recurrence was created. Returns one
-- row per failure.
with clusters as (
    select * from {{ ref('defect_clusters') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

fixes as (
    select defect_id, resolution, resolved_at,
    from {{ ref('fct_defects') }}
),

cluster_counts as (
    select
        cluster_id,
        count(*) as n_members,
        arg_min(defect_id, (created_at, defect_id)) as earliest_member,
        min(cluster_size) as min_size,
        max(cluster_size) as max_size,
    from clusters
    group by cluster_id
),

bad_clusters as (
    select 'cluster size or id' as check_name, cluster_id as defect_id,
    from cluster_counts
    where n_members <> min_size or n_members <> max_size or earliest_member <> cluster_id
),

bad_recurrences as (
    select 'recurrence_of' as check_name, c.defect_id,
    from clusters as c
    inner join clusters as r on c.recurrence_of = r.defect_id
    inner join fixes as f on c.recurrence_of = f.defect_id
    cross join as_of as a
    where r.cluster_id <> c.cluster_id
        or r.defect_id = c.defect_id
        or f.resolution is distinct from 'fixed'
        or not (f.resolved_at <= a.as_of and f.resolved_at < c.created_at)
)

select * from bad_clusters
union all
select * from bad_recurrences
