-- docs/metrics.md "Duplicates, clusters, recurrence": for every defect known at
-- the as-of (duplicates included), its `candidates_per_defect` highest-scoring
-- other defects among the scored pairs of int_defect_candidate_pairs (a sparse
-- top-k search over all defects, never all pairs). A defect whose text and
-- stack share nothing with any other has no rows.
with settings as (
    select candidates_per_defect
    from {{ ref('stg_policy__settings') }}
),

pairs as (
    select * from {{ ref('int_defect_candidate_pairs') }}
),

-- A pair is stored once (defect_id < candidate_id); each side ranks the other.
-- Ranked on the narrow columns, the reasons joined back to the kept rows: at 1M
-- defects (16M directed pairs) sorting the reasons' text along cost a third
-- of the model's time.
directed as (
    select
        defect_id,
        candidate_id,
        score
    from pairs
    union all
    select
        candidate_id,
        defect_id,
        score
    from pairs
),

ranked as (
    select
        *,
        row_number() over (partition by defect_id order by score desc, candidate_id asc) as candidate_rank
    from directed
),

final as (
    select
        r.defect_id,
        r.candidate_id,
        r.candidate_rank as rank,
        r.score,
        p.reasons,
        p.above_threshold
    from ranked as r
    cross join settings as s
    inner join pairs as p
        on
            least(r.defect_id, r.candidate_id) = p.defect_id
            and greatest(r.defect_id, r.candidate_id) = p.candidate_id
    where r.candidate_rank <= s.candidates_per_defect
)

select * from final
