{{ config(materialized="table") }}
-- What the pair score compares (docs/metrics.md "Duplicate candidates"), one
-- row per defect known at the as-of, duplicates included: the masked title
-- and description (never raw text), the stack fingerprint, and the
-- environment fingerprint. Read by the Python model int_defect_pair_scores,
-- twice (codes, then text): a table, so int_defects is computed once.
with defects as (
    select * from {{ ref('int_defects') }}
),

fingerprints as (
    select * from {{ ref('int_defect_stack_fingerprints') }}
),

final as (
    select
        d.defect_id,
        d.created_at,
        d.title,
        d.description,
        f.stack_fingerprint,
        d.service,
        d.component,
        d.environment,
        {{ stack_error_type('d.stack_trace') }} as error_type
    from defects as d
    inner join fingerprints as f on d.defect_id = f.defect_id
)

select * from final
