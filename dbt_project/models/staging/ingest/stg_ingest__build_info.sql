-- One row: what this build was asked for (the as-of, the policy's
-- fingerprint, the exports folder) and when its ingest ran.
with build_info as (
    select * from {{ source('raw', 'build_info') }}
),

final as (
    select
        as_of,
        built_at,
        policy_sha256,
        exports_dir
    from build_info
)

select * from final
