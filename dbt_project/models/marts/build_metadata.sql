-- One row: the as-of this warehouse describes and when it was built.
with build as (
    select * from {{ ref('stg_ingest__build_info') }}
),

final as (
    select
        as_of,
        policy_sha256
    from build
)

select * from final
