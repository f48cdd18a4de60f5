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
