-- One row per executed test case (docs/contract.md section 3).
with cases as (
    select * from {{ ref('stg_exports__test_cases') }}
),

final as (
    select
        source_file,
        run_id,
        suite,
        classname,
        name,
        status,
        duration_s,
        message,
        fingerprint,
        environment,
        commit_sha,
        executed_at
    from cases
)

select * from final
