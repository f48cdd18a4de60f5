{#- Text, regular expressions and policy values on Spark (issue 14; docs/spark.md).
    The DuckDB forms stay beside the macros that dispatch here (defectflow.sql,
    compliance.sql, commit_rule.sql), character for character what the models
    rendered before, because pipelines/delivery/macros.py renders those files
    for DuckDB with Jinja alone; the Spark forms are only ever rendered by dbt.

    Regular expressions: Spark's are java.util.regex, DuckDB's RE2; the
    patterns of this project mean the same in both, except in replacements
    (`re_ref`) and in how many matches regexp_replace replaces (`re_all`). -#}

{% macro spark__re_all() -%}{%- endmacro %}

{% macro spark__re_ref(n) -%}
    ${{ n }}
{%- endmacro %}

{#- Policy values the DuckDB build reads from session variables that each
    model's pre-hook sets: on Spark a scalar subquery on the one-row source,
    which Spark runs once per query (its session variables cannot be read by
    a view), and the pre-hooks do nothing. -#}
{% macro spark__set_defect_key_pattern() -%}{%- endmacro %}
{% macro spark__set_commit_bot_pattern() -%}{%- endmacro %}
{% macro spark__set_commit_ignore_merges() -%}{%- endmacro %}
{% macro spark__set_coverage_exclude_pattern() -%}{%- endmacro %}
{% macro spark__set_person_pattern() -%}{%- endmacro %}

{% macro spark__defect_key_pattern() -%}
    (select defect_key_pattern from {{ source('raw', 'policy_settings') }})
{%- endmacro %}

{% macro spark__commit_bot_pattern() -%}
    (select commit_bot_pattern from {{ source('raw', 'policy_settings') }})
{%- endmacro %}

{% macro spark__commit_ignore_merges() -%}
    (select commit_ignore_merges from {{ source('raw', 'policy_settings') }})
{%- endmacro %}

{#- DuckDB's string_agg over no rows is NULL; Spark's concat_ws over no rows
    is '', a pattern matching every path: nullif keeps "matches nothing". -#}
{% macro spark__coverage_exclude_pattern() -%}
    coalesce((
        select nullif(concat_ws('|', collect_list('(?:' || path_regex || ')')), '')
        from {{ ref('stg_policy__coverage_exclude') }}
    ), '[^\s\S]')
{%- endmacro %}

{#- The names pattern, case-insensitive in Unicode as RE2's `(?i)` is (Java's
    `(?i)` alone folds ASCII only). -#}
{% macro spark__person_pattern() -%}
    concat('(?u)', (select lookahead_pattern from {{ ref('stg_exports__person_pattern') }}))
{%- endmacro %}

{#- HMAC-SHA256 as DuckDB's person_key computes it: the key file's bytes
    XOR 0x36 (inner pad) and 0x5c (outer pad), read where they are used
    (binaryFile), byte by byte since Spark has no XOR of binaries. -#}
{% macro spark__person_key(expr) -%}
    case when {{ text(expr) }} is not null
         then 'person-' || substr(sha2(concat({{ spark_person_pad(92) }}, unhex(sha2(
             concat({{ spark_person_pad(54) }}, encode(lower(trim({{ expr }})), 'utf-8')), 256))), 256), 1, 10) end
{%- endmacro %}

{% macro spark_person_pad(byte) -%}
    {%- set path = env_var('DEFECTFLOW_PSEUDONYM_KEY', '') -%}
    {%- if not path -%}
    {#- the pre-hook stops the build first; this keeps the SQL analysable without a key -#}
    cast(raise_error('DEFECTFLOW_PSEUDONYM_KEY names no key file') as binary)
    {%- else -%}
    (select unhex(concat_ws('', transform(sequence(1, length(content)),
        i -> lpad(hex(cast(conv(hex(substr(content, i, 1)), 16, 10) as int) ^ {{ byte }}), 2, '0'))))
     from binaryFile.`{{ path | replace('`', '``') }}`)
    {%- endif -%}
{%- endmacro %}

{#- The key is read where it is used; without one the model fails when it runs. -#}
{% macro spark__set_person_key() -%}
    {%- if not env_var('DEFECTFLOW_PSEUDONYM_KEY', '') -%}
    select raise_error('DEFECTFLOW_PSEUDONYM_KEY names no key file (pipelines/pseudonyms.py creates it)')
    {%- endif -%}
{%- endmacro %}

{#- COMMIT_UNLINKED (commit_rule.sql) in Spark's functions: a `;` is itself
    in the regular expression Spark's split takes. -#}
{% macro spark__commit_is_unlinked(branch, message, author, parents, production_branches, key_pattern, bot_pattern, ignore_merges) -%}
    coalesce(
        array_contains({{ production_branches }}, {{ branch }})
        and not coalesce({{ message }} rlike {{ key_pattern }}, false)
        and not (coalesce({{ ignore_merges }}, false) and coalesce(size(split({{ parents }}, ';')) > 1, false))
        and not coalesce({{ author }} rlike {{ bot_pattern }}, false),
        false
    )
{%- endmacro %}

{#- A group's values as a list (NULLs: DuckDB keeps them, Spark drops them;
    the callers' values are never NULL). -#}
{% macro value_list(expr) -%}
    {{ return(adapter.dispatch('value_list', 'defectflow')(expr)) }}
{%- endmacro %}

{% macro duckdb__value_list(expr) -%}
    list({{ expr }})
{%- endmacro %}

{% macro spark__value_list(expr) -%}
    collect_list({{ expr }})
{%- endmacro %}

{#- `text` with every regular expression metacharacter escaped, as RE2's
    QuoteMeta (DuckDB's regexp_escape) writes it: a backslash before every
    ASCII character but letters, digits and `_`. -#}
{% macro regexp_escape(expr) -%}
    {{ return(adapter.dispatch('regexp_escape', 'defectflow')(expr)) }}
{%- endmacro %}

{% macro duckdb__regexp_escape(expr) -%}
    regexp_escape({{ expr }})
{%- endmacro %}

{% macro spark__regexp_escape(expr) -%}
    regexp_replace({{ expr }}, '([^\w\x{80}-\x{10FFFF}])', '\\$1')
{%- endmacro %}

{#- Does `expr` match the regular expression somewhere (DuckDB's regexp_matches)? -#}
{% macro regexp_contains(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains', 'defectflow')(expr, pattern)) }}
{%- endmacro %}

{% macro duckdb__regexp_contains(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regexp_contains(expr, pattern) -%}
    ({{ expr }} rlike {{ pattern }})
{%- endmacro %}

{#- Text cut at a regular expression into a list. -#}
{% macro regexp_split(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_split', 'defectflow')(expr, pattern)) }}
{%- endmacro %}

{% macro duckdb__regexp_split(expr, pattern) -%}
    regexp_split_to_array({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regexp_split(expr, pattern) -%}
    split({{ expr }}, {{ pattern }})
{%- endmacro %}

{#- Element `i` of a list, counted from 1 (-1 the last); NULL past the end. -#}
{% macro list_at(list, i) -%}
    {{ return(adapter.dispatch('list_at', 'defectflow')(list, i)) }}
{%- endmacro %}

{% macro duckdb__list_at(list, i) -%}
    {{ list }}[{{ i }}]
{%- endmacro %}

{% macro spark__list_at(list, i) -%}
    try_element_at({{ list }}, {{ i }})
{%- endmacro %}

{% macro list_length(list) -%}
    {{ return(adapter.dispatch('list_length', 'defectflow')(list)) }}
{%- endmacro %}

{% macro duckdb__list_length(list) -%}
    len({{ list }})
{%- endmacro %}

{% macro spark__list_length(list) -%}
    size({{ list }})
{%- endmacro %}

{#- A select-list item: one row per element of the list of `items` (SQL expressions). -#}
{% macro unnest_items(items) -%}
    {{ return(adapter.dispatch('unnest_items', 'defectflow')(items)) }}
{%- endmacro %}

{% macro duckdb__unnest_items(items) -%}
    unnest([
        {%- for item in items %}
            {{ item }}{{ ',' if not loop.last }}
        {%- endfor %}
        ])
{%- endmacro %}

{% macro spark__unnest_items(items) -%}
    explode(array(
        {%- for item in items %}
            {{ item }}{{ ',' if not loop.last }}
        {%- endfor %}
        ))
{%- endmacro %}

{#- Follows a from-clause item: one row per element of the list `expr`, as
    `alias.column`; a NULL or empty list gives no row on both engines. -#}
{% macro list_to_rows(expr, alias, column) -%}
    {{ return(adapter.dispatch('list_to_rows', 'defectflow')(expr, alias, column)) }}
{%- endmacro %}

{% macro duckdb__list_to_rows(expr, alias, column) -%}
    , unnest({{ expr }}) as {{ alias }} ({{ column }})
{%- endmacro %}

{% macro spark__list_to_rows(expr, alias, column) -%}
    lateral view explode({{ expr }}) {{ alias }} as {{ column }}
{%- endmacro %}

{#- Every whole match of a regular expression, as a list (Spark's
    regexp_extract_all returns group 1 unless told group 0). -#}
{% macro regexp_matches_all(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches_all', 'defectflow')(expr, pattern)) }}
{%- endmacro %}

{% macro duckdb__regexp_matches_all(expr, pattern) -%}
    regexp_extract_all({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regexp_matches_all(expr, pattern) -%}
    regexp_extract_all({{ expr }}, {{ pattern }}, 0)
{%- endmacro %}
