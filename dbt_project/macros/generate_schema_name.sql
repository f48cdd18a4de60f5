{#- Models land in the schema their folder names (staging, intermediate, marts, audit),
    not dbt's default "<target>_<custom>", because docs/contract.md names `marts.*`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
