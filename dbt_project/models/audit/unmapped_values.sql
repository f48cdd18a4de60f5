{#- (staged entity, field): every field staging maps through a policy
    vocabulary; the staging model has `<field>_raw` and `<field>_unmapped`. -#}
{%- set mapped_fields = [
    ('defects', 'severity'), ('defects', 'environment'), ('defects', 'status'), ('defects', 'resolution'),
    ('defect_status_history', 'from_status'), ('defect_status_history', 'to_status'),
    ('incidents', 'severity'), ('incidents', 'environment'),
    ('deployments', 'environment'),
] -%}
-- The raw values no policy name maps, per entity and field, with what staging
-- made of them. Read from the staging models' own vocabulary joins (their
-- `*_unmapped` flags), so this list and the mapping cannot disagree. The load
-- summary prints it.
with defects as (
    select * from {{ ref('stg_exports__defects') }}
),

defect_status_history as (
    select * from {{ ref('stg_exports__defect_status_history') }}
),

incidents as (
    select * from {{ ref('stg_exports__incidents') }}
),

deployments as (
    select * from {{ ref('stg_exports__deployments') }}
),

settings as (
    select unmapped_severity from {{ ref('stg_policy__settings') }}
),

-- What the staging models put in place of a value nobody listed.
fallbacks as (
    select
        'severity' as field,
        unmapped_severity as mapped_to
    from settings
    union all
    select
        'environment',
        '(kept as is)'
    union all
    select
        'status',
        'the status category, else resolved if resolved_at is set, else new'
    union all
    select
        'resolution',
        '(empty)'
    union all
    select
        'from_status',
        'the status category, else new'
    union all
    select
        'to_status',
        'the status category, else new'
),

-- A missing value is not unmapped: the default for a missing value applies.
unmapped as (
    {%- for entity, field in mapped_fields %}
        select
            '{{ entity }}' as entity,
            '{{ field }}' as field,
            {{ field }}_raw as raw_value
        from {{ entity }}
        where {{ field }}_unmapped and {{ field }}_raw is not null
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        u.entity,
        u.field,
        u.raw_value,
        count(*) as rows,
        f.mapped_to
    from unmapped as u
    inner join fallbacks as f on u.field = f.field
    group by u.entity, u.field, u.raw_value, f.mapped_to
)

select * from final
