{#- Constructs DuckDB and Spark spell differently, one implementation per
    adapter (docs/spark.md lists what is ported and what is left). The DuckDB
    forms are the SQL the models had before the port, character for character. -#}

{#- An instant: DuckDB's `timestamptz`; Spark's `timestamp` is already an instant
    (shown in the session time zone, UTC here). -#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__type_timestamptz() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_timestamptz() -%}
    timestamp
{%- endmacro %}

{#- Text: `varchar` in DuckDB (dbt.type_string() would render it in capitals),
    `string` in Spark, whose `varchar` needs a length. -#}
{% macro type_text() -%}
    {{ return(adapter.dispatch('type_text', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__type_text() -%}
    varchar
{%- endmacro %}

{% macro spark__type_text() -%}
    string
{%- endmacro %}

{#- An empty list of text (the gate's rule and id lists). -#}
{% macro empty_text_list() -%}
    {{ return(adapter.dispatch('empty_text_list', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__empty_text_list() -%}
    cast([] as varchar[])
{%- endmacro %}

{% macro spark__empty_text_list() -%}
    cast(array() as array<string>)
{%- endmacro %}

{#- The last non-NULL value of a window (followed by its `over (...)`). -#}
{% macro last_value_ignore_nulls(expr) -%}
    {{ return(adapter.dispatch('last_value_ignore_nulls', 'defectflow')(expr)) }}
{%- endmacro %}

{% macro duckdb__last_value_ignore_nulls(expr) -%}
    last_value({{ expr }} ignore nulls)
{%- endmacro %}

{% macro spark__last_value_ignore_nulls(expr) -%}
    last_value({{ expr }}, true)
{%- endmacro %}

{#- The first row of each group of a relation, all its columns (the staging
    models' "newest export wins"). DuckDB filters with `qualify`; Spark has no
    `qualify`, so it numbers the rows in a subquery and keeps the rank column
    (`first_row_rank`), which the staging models' explicit select lists drop. -#}
{% macro first_row_per(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('first_row_per', 'defectflow')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro duckdb__first_row_per(relation, partition_by, order_by) -%}
    select * from {{ relation }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{% macro spark__first_row_per(relation, partition_by, order_by) -%}
    select * from (
        select *, row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as first_row_rank
        from {{ relation }}
    ) as numbered
    where first_row_rank = 1
{%- endmacro %}
