-- Every build appends every gate verdict, keyed by the build's as-of and build
-- time (docs/contract.md, "History tables"), so verdict history survives rebuilds.
with release_gate as (
    select
        service,
        release,
        environment,
        verdict,
        fired_rules,
        waived_rules
    from {{ ref('release_gate') }}
),

final as (
    {{ append_per_build('release_gate') }}
)

select * from final
