-- One row: a case-insensitive regular expression matching the name of every
-- person the exports name, for masking free text (longest names first, so a
-- full name wins over a part of it). Names in scripts without word spaces
-- (e.g. Chinese) match anywhere, others as whole words. A pattern that
-- matches nothing when nobody is named.
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

final as (
    select
        coalesce(
            '(?i)(' || string_agg(
                case
                    when regexp_matches(name, '^[ -~]+$') then '\b' || regexp_escape(name) || '\b'
                    else regexp_escape(name)
                end,
                '|' order by length(name) desc, name
            ) || ')',
            '[^\s\S]'
        ) as pattern,
        count(*) as names
    from names
)

select * from final
