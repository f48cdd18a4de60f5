{#- Appended, never rebuilt (see metric_snapshots). -#}
{{ config(materialized='incremental', full_refresh=false, on_schema_change='append_new_columns') }}

-- Every build appends every gate verdict, keyed by the build's as-of and build
-- time (docs/contract.md, History), so verdict history survives rebuilds.
with release_gate as (
    select * from {{ ref('release_gate') }}
),

build as (
    select * from {{ ref('stg_ingest__build_info') }}
),

final as (
    select
        build.as_of,
        build.built_at,
        release_gate.service,
        release_gate.release,
        release_gate.environment,
        release_gate.verdict,
        release_gate.fired_rules,
        release_gate.waived_rules
    from release_gate
    cross join build
    {% if is_incremental() %}
    -- dbt run twice in one build (a retried step) appends once
    where not exists (select 1 from {{ this }} as earlier where earlier.built_at = build.built_at)
    {% endif %}
)

select * from final
