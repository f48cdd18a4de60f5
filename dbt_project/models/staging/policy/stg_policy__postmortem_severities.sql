-- The incident severities that need a post-mortem from detection
-- (policy.postmortem_severities), each once.
with postmortem_severities as (
    select * from {{ source('raw', 'policy_postmortem_severities') }}
),

final as (
    select distinct severity
    from postmortem_severities
)

select * from final
