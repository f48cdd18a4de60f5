-- A table, not a view: several models read it, and a view would parse every
-- stack trace once per reader.
{{ config(materialized="table") }}

-- Each defect's stack fingerprint (docs/metrics.md "Stack fingerprint", macro
-- `stack_fingerprint`, the one fct_test_cases uses), duplicates included:
-- they take part in clustering. Computed over the masked stack trace, the
-- only one models may read; masking can change a fingerprint only where the
-- trace names a person, an e-mail address, an IP or a secret.
with defects as (
    select * from {{ ref('int_defects') }}
),

final as (
    select
        defect_id,
        service,
        environment,
        attributed_release,
        segment,
        created_at,
        is_duplicate,
        {{ stack_fingerprint('stack_trace') }} as stack_fingerprint
    from defects
)

select * from final
