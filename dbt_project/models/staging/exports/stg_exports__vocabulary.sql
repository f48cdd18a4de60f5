-- One row per (vocabulary, match key): the policy's mapping, keyed the way raw values are keyed.
with vocabulary as (
    select * from {{ source('raw', 'policy_vocabulary') }}
),

final as (
    select distinct
        vocabulary,
        {{ match_key('name') }} as match_key,
        canonical,
    from vocabulary
)

select * from final
