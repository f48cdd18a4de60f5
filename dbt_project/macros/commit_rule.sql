{#- COMMIT_UNLINKED, the one definition (docs/metrics.md "Compliance findings"):
    a commit on a production branch whose message names no defect key, unless
    it is a merge and merges are ignored, or its author matches a bot glob.
    stg_exports__commits renders it with dbt; `defectflow check-commits`
    (pipelines/delivery/commits.py) renders it with plain Jinja
    (pipelines/delivery/macros.py) and binds the policy's values, so the macro
    calls no dbt function and every argument is a SQL expression. -#}
{% macro commit_is_unlinked(branch, message, author, parents, production_branches, key_pattern, bot_pattern, ignore_merges) -%}
    {#- dbt dispatches (Spark: portable_text.sql); Jinja alone renders DuckDB's form -#}
    {%- if adapter is defined -%}
    {{ return(adapter.dispatch('commit_is_unlinked', 'defectflow')(branch, message, author, parents, production_branches, key_pattern, bot_pattern, ignore_merges)) }}
    {%- else -%}
    {{ duckdb__commit_is_unlinked(branch, message, author, parents, production_branches, key_pattern, bot_pattern, ignore_merges) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__commit_is_unlinked(branch, message, author, parents, production_branches, key_pattern, bot_pattern, ignore_merges) -%}
    coalesce(
        list_contains({{ production_branches }}, {{ branch }})
        and not coalesce(regexp_matches({{ message }}, {{ key_pattern }}), false)
        and not (coalesce({{ ignore_merges }}, false) and coalesce(len(string_split({{ parents }}, ';')) > 1, false))
        and not coalesce(regexp_matches({{ author }}, {{ bot_pattern }}), false),
        false
    )
{%- endmacro %}
