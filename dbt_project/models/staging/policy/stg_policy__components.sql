-- Component path globs (policy.components), with each glob as an anchored
-- regular expression (written by the ingest, pipelines.policy.glob_regex).
with components as (
    select * from {{ source('raw', 'policy_components') }}
),

final as (
    select
        component,
        path_glob,
        path_regex
    from components
)

select * from final
