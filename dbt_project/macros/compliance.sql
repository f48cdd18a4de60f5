{#- The policy's defect key pattern (policy.defect_key_pattern) as a session
    variable, set in the pre-hook of the model that reads it. DuckDB compiles a
    constant regular expression once but a pattern read from a column once per
    row (measured: 1M messages, 1 s against 25 s). Models using it must be
    tables: a view would read the variable when queried, not when built. -#}
{% macro set_defect_key_pattern() -%}
    {{ return(adapter.dispatch('set_defect_key_pattern', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__set_defect_key_pattern() -%}
    set variable df_defect_key_pattern = (select defect_key_pattern from {{ source('raw', 'policy_settings') }})
{%- endmacro %}

{#- policy.commits (the bot pattern and whether merges count) for
    commit_is_unlinked, session variables for the same reason. -#}
{% macro set_commit_bot_pattern() -%}
    {{ return(adapter.dispatch('set_commit_bot_pattern', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__set_commit_bot_pattern() -%}
    set variable df_commit_bot_pattern = (select commit_bot_pattern from {{ source('raw', 'policy_settings') }})
{%- endmacro %}

{% macro set_commit_ignore_merges() -%}
    {{ return(adapter.dispatch('set_commit_ignore_merges', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__set_commit_ignore_merges() -%}
    set variable df_commit_ignore_merges = (select commit_ignore_merges from {{ source('raw', 'policy_settings') }})
{%- endmacro %}

{% macro defect_key_pattern() -%}
    {{ return(adapter.dispatch('defect_key_pattern', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__defect_key_pattern() -%}
    getvariable('df_defect_key_pattern')
{%- endmacro %}

{% macro commit_bot_pattern() -%}
    {{ return(adapter.dispatch('commit_bot_pattern', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__commit_bot_pattern() -%}
    getvariable('df_commit_bot_pattern')
{%- endmacro %}

{% macro commit_ignore_merges() -%}
    {{ return(adapter.dispatch('commit_ignore_merges', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__commit_ignore_merges() -%}
    getvariable('df_commit_ignore_merges')
{%- endmacro %}

{#- On Spark (portable_text.sql) each of these is a scalar subquery on the
    one-row policy settings where it is used, and the pre-hooks do nothing:
    a Spark session variable cannot be read by a view, and Spark plans an
    uncorrelated scalar subquery once per query, not once per row. -#}

{#- policy.coverage_exclude as one pattern matching a path any of its globs
    matches, a session variable for the same reason as the key pattern (a
    join to the pattern table compiled each pattern once per file: 35 s at
    1M defects). Matches nothing when the list is empty. -#}
{% macro set_coverage_exclude_pattern() -%}
    {{ return(adapter.dispatch('set_coverage_exclude_pattern', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__set_coverage_exclude_pattern() -%}
    set variable df_coverage_exclude_pattern = (
        select string_agg('(?:' || path_regex || ')', '|') from {{ ref('stg_policy__coverage_exclude') }}
    )
{%- endmacro %}

{% macro coverage_exclude_pattern() -%}
    {{ return(adapter.dispatch('coverage_exclude_pattern', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__coverage_exclude_pattern() -%}
    coalesce(getvariable('df_coverage_exclude_pattern'), '[^\s\S]')
{%- endmacro %}

{#- `path` ends with `suffix` at a folder boundary: 'a/b/c.py' ends with
    'b/c.py' and with 'c.py', 'a/bc.py' does not end with 'c.py'. `right`
    rather than `like`, whose `_` and `%` are wildcards file names contain. -#}
{% macro path_ends_with(path, suffix) -%}
    right({{ path }}, length({{ suffix }}) + 1) = '/' || {{ suffix }}
{%- endmacro %}
