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
        case
            when {{ regexp_contains('name', "'^[ -~]+$'") }} then '\b' || {{ regexp_escape('name') }} || '\b'
            else {{ regexp_escape('name') }}
        end as alternative
    from names
    union
    select
        name,
        {% set first_word = regexp_escape(list_at('words', 1)) -%}
        {% set last_word = regexp_escape(list_at('words', -1)) -%}
        {{ unnest_items([
            "'\\b' || " ~ first_word ~ " || '[\\s._-]?' || " ~ last_word ~ " || '\\b'",
            "'\\b' || " ~ last_word ~ " || ',\\s*' || " ~ first_word ~ " || '\\b'",
        ]) }} as alternative
    from ascii_words
    where {{ list_length('words') }} >= 2
),

final as (
    select
        coalesce(
            -- nullif: Spark joins no rows into '' (DuckDB: NULL), a pattern matching everywhere
            '(?i)('
            || nullif({{ ordered_listagg('alternative', "'|'", ['-length(name)', 'name', 'alternative']) }}, '')
            || ')',
            '[^\s\S]'
        ) as pattern,
        count(distinct name) as names
    from alternatives
)

select * from final
