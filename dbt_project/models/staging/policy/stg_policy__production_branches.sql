-- The branches whose commits ship to production (policy.production_branches),
-- each once.
with branches as (
    select * from {{ source('raw', 'policy_production_branches') }}
),

final as (
    select distinct trim(branch) as branch
    from branches
)

select * from final
