{#- The rows of `relation` with this build's as-of and build time in front: what a
    history model appends. A run that reaches dbt twice in one build (a retried
    step) appends once. -#}
{% macro append_per_build(relation) %}
    select
        build.as_of,
        build.built_at,
        appended.*
    from {{ relation }} as appended
    cross join {{ ref('stg_ingest__build_info') }} as build
    {% if is_incremental() %}
        where not exists (select 1 from {{ this }} as earlier where earlier.built_at = build.built_at)
    {% endif %}
{% endmacro %}
