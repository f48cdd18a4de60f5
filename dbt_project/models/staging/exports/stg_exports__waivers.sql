-- a table, not a view: the names pattern is a session variable, set only while this builds
{{ config(materialized="table", pre_hook="{{ set_person_pattern() }}") }}
-- depends_on: {{ ref('stg_exports__person_pattern') }}

-- Release-gate waivers from both places a team keeps them (docs/metrics.md settled
-- detail 10): the policy file's `waivers` and any waivers.csv in the exports.
-- The same waiver given in both is one waiver.
with from_policy as (
    select
        rule,
        service,
        release,
        approver,
        reason,
        expires_at,
        'policy' as origin
    from {{ source('raw', 'policy_waivers') }}
),

from_exports as (
    select
        rule,
        service,
        release,
        approver,
        reason,
        expires_at,
        source_file as origin
    from {{ source('raw', 'waivers') }}
),

unioned as (
    select * from from_policy
    union all
    select * from from_exports
),

renamed as (
    select
        upper({{ text('rule') }}) as rule,
        {{ text('service') }} as service,
        {{ text('release') }} as release,
        {{ text('approver') }} as approver,
        -- the reason is free text; the approver is who the gate must name
        {{ mask_text(text('reason')) }} as reason,
        expires_at,
        origin
    from unioned
)

{{ first_row_per(
    'renamed',
    'rule, service, release, approver, expires_at',
    "origin = 'policy' desc, origin"
) }}
