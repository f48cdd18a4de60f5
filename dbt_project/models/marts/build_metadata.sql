-- One row: the as-of this warehouse describes, the policy it was built with, and the
-- policy thresholds readers draw against the figures (reports mark the RCA threshold).
with build as (
    select * from {{ ref('stg_ingest__build_info') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
),

final as (
    select
        build.as_of,
        build.policy_sha256,
        settings.escape_rate_rca_threshold,
        settings.coverage_gap_threshold
    from build
    cross join settings
)

select * from final
