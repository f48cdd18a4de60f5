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
    `qualify`, so it numbers the rows in a subquery and drops the number
    (`* except`, Spark 4). -#}
{% macro first_row_per(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('first_row_per', 'defectflow')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro duckdb__first_row_per(relation, partition_by, order_by) -%}
    select * from {{ relation }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{% macro spark__first_row_per(relation, partition_by, order_by) -%}
    select * except (first_row_rank) from (
        select *, row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as first_row_rank
        from {{ relation }}
    ) as numbered
    where first_row_rank = 1
{%- endmacro %}

{#- One row per day (or week) from start through stop, as a select-list
    expression of dates: DuckDB unnests its list-valued generate_series,
    Spark explodes a sequence. `step` is an interval literal in days. -#}
{% macro date_series(start, stop, step) -%}
    {{ return(adapter.dispatch('date_series', 'defectflow')(start, stop, step)) }}
{%- endmacro %}

{% macro duckdb__date_series(start, stop, step) -%}
    cast(unnest(generate_series({{ start }}, {{ stop }}, {{ step }})) as date)
{%- endmacro %}

{% macro spark__date_series(start, stop, step) -%}
    explode(sequence(cast({{ start }} as date), cast({{ stop }} as date), {{ step }}))
{%- endmacro %}

{#- Follows a from-clause item: one row per `sep`-separated part of `expr`,
    as `alias.column`. A NULL list gives no row on both engines. `sep` must
    mean itself in a regular expression (Spark's split takes one). -#}
{% macro split_to_rows(expr, sep, alias, column) -%}
    {{ return(adapter.dispatch('split_to_rows', 'defectflow')(expr, sep, alias, column)) }}
{%- endmacro %}

{% macro duckdb__split_to_rows(expr, sep, alias, column) -%}
    , unnest(string_split({{ expr }}, '{{ sep }}')) as {{ alias }} ({{ column }})
{%- endmacro %}

{% macro spark__split_to_rows(expr, sep, alias, column) -%}
    lateral view explode(split({{ expr }}, '{{ sep }}')) {{ alias }} as {{ column }}
{%- endmacro %}

{#- `t.* <this> (a, b)`: every column but the ones named. -#}
{% macro star_except() -%}
    {{ return(adapter.dispatch('star_except', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__star_except() -%}
    exclude
{%- endmacro %}

{% macro spark__star_except() -%}
    except
{%- endmacro %}

{#- The values of a group as a list sorted by value (ids, rule names), each
    value once when `distinct`, over the rows `filter` keeps. Spark's collect
    functions skip NULLs; these values are keys, never NULL. -#}
{% macro sorted_list(expr, distinct=false, filter=none) -%}
    {{ return(adapter.dispatch('sorted_list', 'defectflow')(expr, distinct, filter)) }}
{%- endmacro %}

{% macro duckdb__sorted_list(expr, distinct, filter) -%}
    list({{ 'distinct ' if distinct }}{{ expr }} order by {{ expr }})
    {%- if filter %} filter (where {{ filter }}){% endif %}
{%- endmacro %}

{% macro spark__sorted_list(expr, distinct, filter) -%}
    array_sort({{ 'collect_set' if distinct else 'collect_list' }}({{ expr }})
    {%- if filter %} filter (where {{ filter }}){% endif %})
{%- endmacro %}

{#- A group's rows as a list of structs (`fields`: name -> expression, in
    order), sorted by the leading fields named in `order_by`. Spark sorts the
    structs themselves, so `order_by` must be the first fields, in order; the
    fields after them only break ties DuckDB leaves in any order. -#}
{% macro struct_list(fields, order_by) -%}
    {{ return(adapter.dispatch('struct_list', 'defectflow')(fields, order_by)) }}
{%- endmacro %}

{% macro duckdb__struct_list(fields, order_by) -%}
    list({
        {%- for name, expr in fields.items() %}
            '{{ name }}': {{ expr }}{{ ',' if not loop.last }}
        {%- endfor %}
        } order by {{ order_by }})
{%- endmacro %}

{% macro spark__struct_list(fields, order_by) -%}
    array_sort(collect_list(named_struct(
        {%- for name, expr in fields.items() %}
            '{{ name }}', {{ expr }}{{ ',' if not loop.last }}
        {%- endfor %}
        )))
{%- endmacro %}

{#- An empty list whose element type comes from the other branch of a coalesce. -#}
{% macro empty_list() -%}
    {{ return(adapter.dispatch('empty_list', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__empty_list() -%}
    []
{%- endmacro %}

{% macro spark__empty_list() -%}
    array()
{%- endmacro %}

{#- An as-of join: every row of `probe` (as `p`, all its columns) with the row
    of `build` (as `b`) of the same `keys` whose `build_at` is the latest at or
    before (`inclusive`) or strictly before the probe's `probe_at`; `columns`
    are select-list items over `b`. `kind` 'inner' drops probe rows without
    one, 'left' keeps them with NULLs. `build` must hold one row per (keys,
    build_at): the Spark form joins back on them. -#}
{% macro asof_join(probe, build, keys, probe_at, build_at, columns, inclusive=true, kind='inner') -%}
    {{ return(adapter.dispatch('asof_join', 'defectflow')(probe, build, keys, probe_at, build_at, columns, inclusive, kind)) }}
{%- endmacro %}

{% macro duckdb__asof_join(probe, build, keys, probe_at, build_at, columns, inclusive, kind) -%}
    select p.*, {{ columns | join(', ') }}
    from {{ probe }} as p
    asof {{ kind }} join {{ build }} as b
        on
            {% for k in keys -%}
            p.{{ k }} = b.{{ k }} and
            {% endfor -%}
            p.{{ probe_at }} {{ '>=' if inclusive else '>' }} b.{{ build_at }}
{%- endmacro %}

{#- Spark has no as-of join, and an inequality join numbered per probe row
    compares every pair of a key (quadratic on a busy service). Instead the
    build and probe instants of each key are sorted together and each probe
    instant carries the largest build instant before it (a running max), then
    both sides are joined back by equality: one sort, no pairs. At equal
    instants the build row sorts first when `inclusive`, after otherwise. -#}
{% macro spark__asof_join(probe, build, keys, probe_at, build_at, columns, inclusive, kind) -%}
    select p.*, {{ columns | join(', ') }}
    from {{ probe }} as p
    {{ kind }} join (
        select {{ keys | join(', ') }}, asof_at, asof_match_at
        from (
            select
                {{ keys | join(', ') }},
                asof_at,
                asof_side,
                max(asof_match_at) over (
                    partition by {{ keys | join(', ') }}
                    order by asof_at, asof_side
                    rows between unbounded preceding and current row
                ) as asof_match_at
            from (
                select {{ keys | join(', ') }}, {{ build_at }} as asof_at, {{ 0 if inclusive else 2 }} as asof_side,
                    {{ build_at }} as asof_match_at
                from {{ build }}
                where {% for k in keys %}{{ k }} is not null and {% endfor %}{{ build_at }} is not null
                union all
                select distinct {{ keys | join(', ') }}, {{ probe_at }} as asof_at, 1 as asof_side,
                    null as asof_match_at
                from {{ probe }}
                where {% for k in keys %}{{ k }} is not null and {% endfor %}{{ probe_at }} is not null
            ) as asof_instants
        ) as asof_carried
        where asof_side = 1 and asof_match_at is not null
    ) as asof_m
        on
            {% for k in keys -%}
            p.{{ k }} = asof_m.{{ k }} and
            {% endfor -%}
            p.{{ probe_at }} = asof_m.asof_at
    {{ kind }} join {{ build }} as b
        on
            {% for k in keys -%}
            asof_m.{{ k }} = b.{{ k }} and
            {% endfor -%}
            asof_m.asof_match_at = b.{{ build_at }}
{%- endmacro %}

{#- A group's `measure` values joined with `delimiter` in the order of the
    ascending sort keys `order_keys` (a NULL-last key is written as
    `k is null, k`). dbt-spark's listagg drops the order, so Spark sorts
    structs of the keys and the value. -#}
{% macro ordered_listagg(measure, delimiter, order_keys) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'defectflow')(measure, delimiter, order_keys)) }}
{%- endmacro %}

{% macro duckdb__ordered_listagg(measure, delimiter, order_keys) -%}
    {{ dbt.listagg(measure, delimiter, 'order by ' ~ order_keys | join(', ')) }}
{%- endmacro %}

{% macro spark__ordered_listagg(measure, delimiter, order_keys) -%}
    array_join(transform(array_sort(collect_list(named_struct(
        {%- for key in order_keys %}
            'k{{ loop.index }}', {{ key }},
        {%- endfor %}
            'v', {{ measure }}
        ))), x -> x.v), {{ delimiter }})
{%- endmacro %}

{#- Does the whole of `expr` match the regular expression `pattern` (not only
    a part of it)? -#}
{% macro full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('full_match', 'defectflow')(expr, pattern)) }}
{%- endmacro %}

{% macro duckdb__full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro spark__full_match(expr, pattern) -%}
    ({{ expr }} rlike concat('^(?:', {{ pattern }}, ')$'))
{%- endmacro %}

{#- The last part of a path, after its last '/' (the whole path without one).
    Not dbt.split_part on Spark: dbt-spark escapes the separator for a regular
    expression with a backslash the profile's literal strings keep, and splits
    on nothing. -#}
{% macro path_file_name(expr) -%}
    {{ return(adapter.dispatch('path_file_name', 'defectflow')(expr)) }}
{%- endmacro %}

{% macro duckdb__path_file_name(expr) -%}
    reverse({{ dbt.split_part('reverse(' ~ expr ~ ')', "'/'", 1) }})
{%- endmacro %}

{% macro spark__path_file_name(expr) -%}
    substring_index({{ expr }}, '/', -1)
{%- endmacro %}

{#- dbt's unit-test fixtures give a list column as text, `[a, b]` (DuckDB casts
    it from the string); dbt-spark pastes such text into the SQL unquoted.
    Overrides dbt-spark's safe_cast (the root project's wins) so the same
    fixtures build `array('a', 'b')` on Spark: the lists here hold ids, text
    without commas. Everything else as dbt-spark casts it. -#}
{% macro spark__safe_cast(field, type) -%}
    {%- set text = field.strip('"').strip("'") if field is string else '' -%}
    {%- if type.lower().startswith('array') and text.startswith('[') and text.endswith(']') -%}
        {%- set items = [] -%}
        {%- for item in text[1:-1].split(',') if item.strip() -%}
            {%- do items.append("'" ~ item.strip() ~ "'") -%}
        {%- endfor -%}
        cast(array({{ items | join(', ') }}) as {{ type }})
    {%- else -%}
        {%- set unquoted = type.lower().startswith(('struct', 'array', 'map')) and field is string -%}
        cast({{ text if unquoted else field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
