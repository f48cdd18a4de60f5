-- One row per (source, vocabulary, match key): the policy's mapping, keyed the
-- way raw values are keyed. A source's own names win over the global ones.
with vocabulary as (
    select * from {{ source('raw', 'policy_vocabulary') }}
),

sources as (
    select source from {{ source('raw', 'policy_sources') }}
),

candidates as (
    select
        s.source,
        v.vocabulary,
        {{ match_key('v.name') }} as match_key,
        v.canonical,
        v.source = '*' as is_global
    from vocabulary as v
    inner join sources as s on v.source in (s.source, '*')
),

firsts as (
    {{ first_row_per('candidates', 'source, vocabulary, match_key', 'is_global, canonical') }}
),

final as (
    select
        source,
        vocabulary,
        match_key,
        canonical
    from firsts
)

select * from final
