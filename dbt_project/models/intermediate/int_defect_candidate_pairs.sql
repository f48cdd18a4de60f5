{{ config(materialized="table") }}
-- Scored candidate duplicate pairs with their reasons (docs/metrics.md
-- "Duplicate candidates"), one row per unordered pair (defect_id <
-- candidate_id): every pair among some defect's policy.candidates_per_defect
-- best, as scored by the Python model int_defect_pair_scores.
with pairs as (
    select * from {{ ref('int_defect_pair_scores') }}
),

-- The attributes two defects share and the ones they both name differently.
attributes as (
    select
        *,
        concat_ws(
            '/',
            case when same_service then 'service' end,
            case when same_component then 'component' end,
            case when same_environment then 'environment' end,
            case when same_error_type then 'error type' end
        ) as same_attributes,
        concat_ws(
            '/',
            case when not same_service then 'service' end,
            case when not same_component then 'component' end,
            case when not same_environment then 'environment' end,
            case when not same_error_type then 'error type' end
        ) as different_attributes
    from pairs
),

final as (
    select
        p.* {{ star_except() }} (p.same_attributes, p.different_attributes),
        concat_ws(
            '; ',
            'text ' || cast(cast(round(p.text_similarity, 2) as decimal(3, 2)) as {{ dbt.type_string() }})
            || ' (typical ' || cast(cast(round(p.text_typical, 2) as decimal(3, 2)) as {{ dbt.type_string() }}) || ')',
            case when p.same_stack then 'same stack' when not p.same_stack then 'different stack' end,
            case when p.same_attributes <> '' then 'same ' || p.same_attributes end,
            case when p.different_attributes <> '' then 'different ' || p.different_attributes end,
            cast(cast(round(p.days_apart) as bigint) as {{ dbt.type_string() }}) || ' days apart'
        ) as reasons
    from attributes as p
)

select * from final
