{#- Exact elapsed time in hours (never dbt.datediff, which counts calendar boundaries). -#}
{% macro hours_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('hours_between', 'defectflow')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__hours_between(start_ts, end_ts) -%}
    (extract(epoch from {{ end_ts }}) - extract(epoch from {{ start_ts }})) / 3600.0
{%- endmacro %}

{#- Spark has no epoch field; unix_micros is exact, and the double division
    matches DuckDB's double epoch seconds. -#}
{% macro spark__hours_between(start_ts, end_ts) -%}
    cast(unix_micros({{ end_ts }}) - unix_micros({{ start_ts }}) as double) / 3600000000.0
{%- endmacro %}

{#- Continuous percentile (linear interpolation), docs/metrics.md "Percentiles". -#}
{% macro percentile_cont(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'defectflow')(expr, fraction)) }}
{%- endmacro %}

{% macro duckdb__percentile_cont(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{% macro default__percentile_cont(expr, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expr }})
{%- endmacro %}

{#- Vocabulary match key: case, spaces and punctuation do not matter
    (the same rule as pipelines.policy.match_key). -#}
{% macro match_key(expr) -%}
    regexp_replace(lower({{ expr }}), '[^\p{L}\p{N}]+', '', 'g')
{%- endmacro %}

{#- Blank text is missing text. -#}
{% macro text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- Personal data and secrets in free text, masked once in staging (raw keeps
    the originals). Order matters: URLs with credentials and tokens before
    e-mail addresses, e-mail addresses before IPs. -#}
{% macro mask_pii(expr) -%}
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        {{ expr }},
        '(?i)(bearer|token|api[_-]?key|secret|password|passwd)(\s*[:=]\s*|\s+)[^\s,;"'']+', '\1\2[secret]', 'g'),
        '\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})', '[secret]', 'g'),
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[email]', 'g'),
        '\b(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}\b', '[ip]', 'g'),
        '\b([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b', '[ip]', 'g')
{%- endmacro %}

{#- A person, pseudonymised: stable across builds, joinable, not a name. -#}
{% macro person_key(expr) -%}
    case when {{ text(expr) }} is not null
         then 'person-' || substr(md5(lower(trim({{ expr }}))), 1, 10) end
{%- endmacro %}

{#- One served deployment per (service, environment, finished_at): ties on
    finished_at break on started_at, then deployment_id (docs/metrics.md settled
    detail 3), so an as-of join has one candidate per instant. -#}
{% macro latest_deployment_per_instant(deployments) -%}
    select service, environment, finished_at, release, deployment_id
    from {{ deployments }}
    where served
    qualify row_number() over (
        partition by service, environment, finished_at
        order by started_at desc nulls last, deployment_id desc
    ) = 1
{%- endmacro %}

{#- Free text for marts: secrets, e-mails, IPs, then the people the exports
    name (assignees, reporters, actors, authors). The names pattern is a
    session variable set by `set_person_pattern()` in the model's pre-hook, so
    DuckDB compiles the regular expression once, not once per row. -#}
{% macro mask_text(expr) -%}
    regexp_replace({{ mask_pii(expr) }}, coalesce(getvariable('df_person_pattern'), '[^\s\S]'), '[person]', 'g')
{%- endmacro %}

{% macro set_person_pattern() -%}
    set variable df_person_pattern = (select pattern from {{ ref('stg_exports__person_pattern') }})
{%- endmacro %}

{#- Mean of a double, summed exactly. DuckDB's parallel avg over doubles adds
    in whatever order the threads finish, so two builds of the same data
    differed in the last digit (docs/metrics.md: identical tables); a decimal sum
    is integer arithmetic. Values are kept to 1e-9. -#}
{% macro mean(expr) -%}
    cast(avg(cast({{ expr }} as decimal(38, 9))) as double)
{%- endmacro %}
