{{ config(meta={"dagster": {"ref": {"name": "duplicate_candidates"}}}) }}
-- duplicate_candidates agrees with the policy and with defect_clusters
-- (docs/metrics.md "Duplicates, clusters, recurrence"): ranks run 1, 2, ... up to
-- policy.candidates_per_defect with the score never rising, above_threshold
-- is score >= policy.duplicate_threshold, a pair has one score from both
-- sides, and an above-threshold pair lies inside one cluster. Returns one row
-- per failure.
with candidates as (
    select * from {{ ref('duplicate_candidates') }}
),

settings as (
    select duplicate_threshold, candidates_per_defect,
    from {{ ref('stg_policy__settings') }}
),

clusters as (
    select defect_id, cluster_id, from {{ ref('defect_clusters') }}
),

ordered as (
    select
        *,
        row_number() over (partition by defect_id order by rank) as expected_rank,
        lag(score) over (partition by defect_id order by rank) as previous_score,
    from candidates
),

bad_rank as (
    select 'rank' as check_name, o.defect_id, o.candidate_id,
    from ordered as o
    cross join settings as s
    where o.rank <> o.expected_rank
        or o.rank > s.candidates_per_defect
        or o.score > o.previous_score
),

bad_threshold as (
    select 'above_threshold', c.defect_id, c.candidate_id,
    from candidates as c
    cross join settings as s
    where c.above_threshold <> (c.score >= s.duplicate_threshold)
),

bad_symmetry as (
    select 'symmetric score', a.defect_id, a.candidate_id,
    from candidates as a
    inner join candidates as b
        on a.defect_id = b.candidate_id
        and a.candidate_id = b.defect_id
    where a.score <> b.score
),

bad_cluster as (
    select 'same cluster', c.defect_id, c.candidate_id,
    from candidates as c
    inner join clusters as x on c.defect_id = x.defect_id
    inner join clusters as y on c.candidate_id = y.defect_id
    where c.above_threshold
        and x.cluster_id <> y.cluster_id
)

select * from bad_rank
union all
select * from bad_threshold
union all
select * from bad_symmetry
union all
select * from bad_cluster
