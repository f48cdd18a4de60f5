{{ config(materialized="table") }}
{#- Pair score weights (docs/metrics.md "Duplicates, clusters, recurrence"); they
    sum to 1 so the score is in [0, 1]. -#}
{%- set w_stack = 0.5 -%}
{%- set w_title = 0.35 -%}
{%- set w_environment = 0.15 -%}
{#- A title token in more defects than this is too common to block on (a
    project variable so unit tests can use small blocks). -#}
{%- set rare_token_max_defects = var('duplicate_rare_token_max_defects', 50) -%}
-- Scored candidate duplicate pairs (docs/metrics.md "Duplicates, clusters,
-- recurrence"), one row per unordered pair (defect_id < candidate_id), over
-- every defect known at the as-of, duplicates included. Pairs come from
-- blocking, never from all pairs: defects sharing a stack fingerprint, a
-- rare title token, or (service, component, error type). Inside a block the
-- defects are ordered by created_at and each is paired with the
-- `candidates_per_defect` defects that follow it (so with as many before and
-- after it): a block of n defects yields at most n * candidates_per_defect
-- pairs, however common its stack trace (sorted-neighbourhood blocking).
with settings as (
    select
        duplicate_threshold,
        candidates_per_defect
    from {{ ref('stg_policy__settings') }}
),

defects as (
    select
        d.defect_id,
        d.created_at,
        d.service,
        d.component,
        d.environment,
        d.title,
        f.stack_fingerprint,
        {{ stack_error_type('d.stack_trace') }} as error_type
    from {{ ref('int_defects') }} as d
    inner join {{ ref('int_defect_stack_fingerprints') }} as f on d.defect_id = f.defect_id
),

-- The masked title, lower-cased, split on anything not a letter or digit;
-- tokens shorter than 3 characters and bare numbers (counts, ids) carry no
-- meaning of their own.
title_tokens as (
    select distinct
        defect_id,
        token
    from (
        select
            defect_id,
            unnest(string_split_regex(lower(title), '[^\p{L}\p{N}]+')) as token
        from defects
    ) as split
    where
        length(token) >= 3
        and not regexp_full_match(token, '[0-9]+')
),

token_defects as (
    select
        token,
        count(*) as defects
    from title_tokens
    group by token
),

title_sizes as (
    select
        defect_id,
        count(*) as tokens
    from title_tokens
    group by defect_id
),

blocks as (
    select
        'stack:' || stack_fingerprint as block_key,
        defect_id
    from defects
    where stack_fingerprint is not null
    union all
    select
        'title:' || t.token,
        t.defect_id
    from title_tokens as t
    inner join token_defects as c on t.token = c.token
    where c.defects between 2 and {{ rare_token_max_defects }}
    union all
    select
        'error:' || service || '|' || coalesce(component, '') || '|' || error_type,
        defect_id
    from defects
    where error_type is not null
),

numbered as (
    select
        b.block_key,
        b.defect_id,
        row_number() over (partition by b.block_key order by d.created_at, d.defect_id) as block_row
    from blocks as b
    inner join defects as d on b.defect_id = d.defect_id
),

steps as (
    select unnest(generate_series(1, candidates_per_defect)) as step
    from settings
),

-- Each block row with the row numbers it is compared with: the next
-- candidates_per_defect rows of its block.
reach as (
    select
        n.block_key,
        n.defect_id,
        n.block_row + s.step as other_row
    from numbered as n
    cross join steps as s
),

-- An equality join on (block, row number), so a block's size never squares.
block_pairs as (
    select distinct
        least(r.defect_id, b.defect_id) as defect_id,
        greatest(r.defect_id, b.defect_id) as candidate_id
    from reach as r
    inner join numbered as b
        on
            r.block_key = b.block_key
            and r.other_row = b.block_row
),

shared_tokens as (
    select
        p.defect_id,
        p.candidate_id,
        count(*) as tokens
    from block_pairs as p
    inner join title_tokens as ta on p.defect_id = ta.defect_id
    inner join title_tokens as tb
        on
            p.candidate_id = tb.defect_id
            and ta.token = tb.token
    group by p.defect_id, p.candidate_id
),

features as (
    select
        p.defect_id,
        p.candidate_id,
        coalesce(a.stack_fingerprint = b.stack_fingerprint, false) as same_stack,
        -- Jaccard similarity of the two title token sets.
        coalesce(
            cast(s.tokens as double) / nullif(sa.tokens + sb.tokens - s.tokens, 0), 0
        ) as title_similarity,
        coalesce(a.service = b.service, false) as same_service,
        coalesce(a.component = b.component, false) as same_component,
        coalesce(a.environment = b.environment, false) as same_environment,
        coalesce(a.error_type = b.error_type, false) as same_error_type
    from block_pairs as p
    inner join defects as a on p.defect_id = a.defect_id
    inner join defects as b on p.candidate_id = b.defect_id
    left join shared_tokens as s
        on
            p.defect_id = s.defect_id
            and p.candidate_id = s.candidate_id
    left join title_sizes as sa on p.defect_id = sa.defect_id
    left join title_sizes as sb on p.candidate_id = sb.defect_id
),

scored as (
    select
        *,
        (
            cast(same_service as integer) + cast(same_component as integer)
            + cast(same_environment as integer) + cast(same_error_type as integer)) / 4.0
            as environment_share
    from features
),

final as (
    select
        s.defect_id,
        s.candidate_id,
        s.same_stack,
        round(s.title_similarity, 6) as title_similarity,
        cast(s.environment_share as double) as environment_similarity,
        round(
            {{ w_stack }} * cast(s.same_stack as integer)
            + {{ w_title }} * s.title_similarity
            + {{ w_environment }} * s.environment_share,
            6
        ) as score,
        concat_ws(
            '; ',
            case when s.same_stack then 'same stack' end,
            case
                when s.title_similarity > 0
                    then
                        'title ' || cast(cast(round(s.title_similarity, 2) as decimal(3, 2)) as {{ dbt.type_string() }})
            end,
            case
                when s.environment_share > 0
                    then 'same ' || concat_ws(
                        '/',
                        case when s.same_service then 'service' end,
                        case when s.same_component then 'component' end,
                        case when s.same_environment then 'environment' end,
                        case when s.same_error_type then 'error type' end
                    )
            end
        ) as reasons
    from scored as s
)

select
    f.*,
    f.score >= t.duplicate_threshold as above_threshold
from final as f
cross join settings as t
