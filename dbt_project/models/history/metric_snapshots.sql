{#- Appended, never rebuilt: full_refresh=false keeps `dbt build --full-refresh`
    from wiping what earlier builds said; a column added later is appended to
    the existing table. -#}
{{ config(materialized='incremental', full_refresh=false, on_schema_change='append_new_columns') }}

-- Every build appends its headline, keyed by the build's as-of and build time
-- (docs/contract.md, History), so trends survive rebuilds. The build copies the
-- previous warehouse before writing, so the rows carry over build to build.
with headline as (
    select * from {{ ref('headline_metrics') }}
),

build as (
    select * from {{ ref('stg_ingest__build_info') }}
),

final as (
    select
        build.as_of,
        build.built_at,
        headline.metric,
        headline.service,
        headline.record_type,
        headline.environment,
        headline.value,
        headline.n,
        headline.severity
    from headline
    cross join build
    {% if is_incremental() %}
    -- dbt run twice in one build (a retried step) appends once
    where not exists (select 1 from {{ this }} as earlier where earlier.built_at = build.built_at)
    {% endif %}
)

select * from final
