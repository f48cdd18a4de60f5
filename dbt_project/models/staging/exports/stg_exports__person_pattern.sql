-- One row: a case-insensitive regular expression matching the name of every
-- person the exports name, for masking free text (longest names first, so a
-- full name wins over a part of it). A pattern that matches nothing when
-- nobody is named.
with people as (
    select assignee as name from {{ source('raw', 'defects') }}
    union
    select reporter from {{ source('raw', 'defects') }}
    union
    select actor from {{ source('raw', 'defect_status_history') }}
    union
    select author from {{ source('raw', 'commits') }}
),

-- Service accounts are not people, and their names are everyday words in
-- free text ("the admin user"): masking them would garble text, not protect anyone.
names as (
    select distinct trim(name) as name
    from people
    where
        length(trim(name)) >= 3
        and lower(trim(name)) not in (
            'admin', 'administrator', 'root', 'system', 'automation', 'jira', 'jenkins', 'unassigned', 'bot'
        )
        and not lower(trim(name)) like '%[bot]'
),

-- A name in ASCII is matched as whole words, and with its common variants: the
-- first and last word joined by a dot, underscore, hyphen or nothing
-- (`olga.mensah`, a login) and "Last, First". Names in scripts without word
-- spaces (e.g. Chinese) match anywhere, as written.
ascii_words as (
    select
        name,
        {{ regexp_split('name', "'\\s+'") }} as words
    from names
    where {{ regexp_contains('name', "'^[ -~]+$'") }}
),

alternatives as (
    select
        name,
        lower(left(name, 1)) as lead,
        case
            when {{ regexp_contains('name', "'^[ -~]+$'") }} then '\b' || {{ regexp_escape('name') }} || '\b'
            else {{ regexp_escape('name') }}
        end as alternative
    from names
    union
    select
        name,
        lower(left(name, 1)) as lead,
        '\b' || {{ regexp_escape(list_at('words', 1)) }} || '[\s._-]?' || {{ regexp_escape(list_at('words', -1)) }}
        || '\b' as alternative
    from ascii_words
    where {{ list_length('words') }} >= 2
    union
    select
        name,
        lower(left({{ list_at('words', -1) }}, 1)) as lead,
        '\b' || {{ regexp_escape(list_at('words', -1)) }} || ',\s*' || {{ regexp_escape(list_at('words', 1)) }}
        || '\b' as alternative
    from ascii_words
    where {{ list_length('words') }} >= 2
),

-- Java's regular expressions (Spark) try every alternative at every word, RE2
-- (DuckDB) runs them as one automaton: with thousands of names Spark took
-- minutes per 100k descriptions. Spark's pattern puts the alternatives of one
-- first letter behind a look-ahead for it (and a word boundary when all are
-- whole words), so a word tries only its letter's names. The same matches:
-- two alternatives with different first letters never match at one place, and
-- each letter keeps the longest-first order. RE2 has no look-ahead, so DuckDB
-- reads `pattern`.
by_first_letter as (
    select
        lead,
        -- a letter whose names are all whole words: only a word's start tries it
        case when min(case when left(alternative, 2) = '\b' then 1 else 0 end) = 1 then '\b' else '' end
        || '(?=' || {{ regexp_escape('lead') }} || ')(?:'
        || {{ ordered_listagg('alternative', "'|'", ['-length(name)', 'name', 'alternative']) }} || ')' as alternatives
    from alternatives
    group by lead
),

final as (
    select
        coalesce(
            -- nullif: Spark joins no rows into '' (DuckDB: NULL), a pattern matching everywhere
            '(?i)('
            || nullif({{ ordered_listagg('a.alternative', "'|'", ['-length(a.name)', 'a.name', 'a.alternative']) }}, '')
            || ')',
            '[^\s\S]'
        ) as pattern,
        count(distinct a.name) as names,
        coalesce(
            '(?i)(' || nullif(max(l.lookahead_alternatives), '') || ')', '[^\s\S]'
        ) as lookahead_pattern
    from alternatives as a
    cross join (
        select {{ ordered_listagg('alternatives', "'|'", ['lead']) }} as lookahead_alternatives
        from by_first_letter
    ) as l
)

select * from final
