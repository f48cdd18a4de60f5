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
    {{ return(adapter.dispatch('match_key', 'defectflow')(expr)) }}
{%- endmacro %}

{% macro default__match_key(expr) -%}
    regexp_replace(lower({{ expr }}), '[^\p{L}\p{N}]+', '', 'g')
{%- endmacro %}

{#- Spark replaces every match; its 4th argument is a start position, not a flag. -#}
{% macro spark__match_key(expr) -%}
    regexp_replace(lower({{ expr }}), '[^\p{L}\p{N}]+', '')
{%- endmacro %}

{#- Blank text is missing text. -#}
{% macro text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- Personal data and secrets in free text, masked once in staging (raw keeps
    the originals). The token formats are adapted from gitleaks' maintained rule
    set (config/gitleaks.toml, MIT licence; docs/contract.md "Personal data"), written
    for RE2 and widened where a prefix alone identifies the secret. Order
    matters: private key blocks, credentials in URLs and Authorization headers,
    `key = value` assignments, token formats and webhook URLs, then e-mail
    addresses, then IPv6 (whose IPv4-mapped form ends in an IPv4 address), then IPv4. -#}
{% macro mask_pii(expr) -%}
    {{ mask_ipv4(mask_ipv6(mask_email(mask_secrets(expr)))) }}
{%- endmacro %}

{% macro mask_secrets(expr) -%}
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        {{ expr }},
        '-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END[ A-Z0-9_-]{0,100}PRIVATE KEY( BLOCK)?-----|$)', '[secret]'{{ re_all() }}),
        '(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@', '{{ re_ref(1) }}[secret]@'{{ re_all() }}),
        '(?i)(authorization\s*[:=]\s*["'']?(basic|bearer|digest|negotiate|token|apikey)?\s*)[^\s,;"'']+', '{{ re_ref(1) }}[secret]'{{ re_all() }}),
        '(?i)\b([a-z0-9_.-]*(secret|token|passw(or)?d|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[a-z0-9_.-]*\s*[:=]\s*["'']?)[^\s,;"'']+', '{{ re_ref(1) }}[secret]'{{ re_all() }}),
        '(?i)(bearer|token|api[_-]?key|secret|password|passwd)(\s*[:=]\s*|\s+)[^\s,;"'']+', '{{ re_ref(1) }}{{ re_ref(2) }}[secret]'{{ re_all() }}),
        '\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{22,}|gl(pat|dt|ptt|rt|cbt|soat|ffct|imt|oas)-[A-Za-z0-9_-]{20,}'
        || '|xox[abeoprs]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,}|(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}'
        || '|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|sk-(proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}'
        || '|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|(sk|rk)_(live|test|prod)_[A-Za-z0-9]{10,}|hf_[A-Za-z]{34}'
        || '|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}|ATATT3[A-Za-z0-9_=-]{50,}'
        || '|(https?://)?hooks\.slack\.com/(services|workflows|triggers)/[A-Za-z0-9/+_-]+'
        || '|(https?://)?(ptb\.|canary\.)?discord(app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]+)', '[secret]'{{ re_all() }})
{%- endmacro %}

{% macro mask_email(expr) -%}
    regexp_replace({{ expr }}, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[email]'{{ re_all() }})
{%- endmacro %}

{#- Every IPv6 form: full, compressed (`2001:db8::8a2e:370:7334`, `fe80::1%eth0`),
    IPv4-mapped, and `::`-led or -ended. RE2 has no lookaround, so the last two
    capture the neighbouring character and put it back; `Foo::bar` in a stack
    trace is kept (`o` is not a hex digit). -#}
{% macro mask_ipv6(expr) -%}
    regexp_replace(regexp_replace(regexp_replace(
        {{ expr }},
        '(?i)(([0-9a-f]{0,4}:){2,7}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}\b'
        || '|\b[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}\b'
        || '|\b([0-9a-f]{1,4}:){1,6}(:[0-9a-f]{1,4}){1,6}(%[0-9a-z._-]+)?\b)', '[ip]'{{ re_all() }}),
        '(?i)(^|[^0-9a-z_:.])::[0-9a-f]{1,4}(:[0-9a-f]{1,4}){0,6}(%[0-9a-z._-]+)?\b', '{{ re_ref(1) }}[ip]'{{ re_all() }}),
        '(?i)\b([0-9a-f]{1,4}:){1,7}:([^0-9a-z_:]|$)', '[ip]{{ re_ref(2) }}'{{ re_all() }})
{%- endmacro %}

{% macro mask_ipv4(expr) -%}
    regexp_replace({{ expr }}, '\b(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}\b', '[ip]'{{ re_all() }})
{%- endmacro %}

{#- A person, pseudonymised: stable across builds of one installation, joinable,
    not a name. HMAC-SHA256 of the lower-cased name keyed by the installation's
    secret (docs/contract.md "Personal data"), whose padded halves `set_person_key()`
    puts in a session variable: without the secret, a name cannot be tried
    against the pseudonyms. -#}
{% macro person_key(expr) -%}
    {%- if adapter is defined -%}
    {{ return(adapter.dispatch('person_key', 'defectflow')(expr)) }}
    {%- else -%}
    {{ duckdb__person_key(expr) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__person_key(expr) -%}
    case when {{ text(expr) }} is not null
         then 'person-' || substr(sha256(getvariable('df_person_key').outer_pad || unhex(sha256(
             getvariable('df_person_key').inner_pad || encode(lower(trim({{ expr }})))))), 1, 10) end
{%- endmacro %}

{#- The pre-hook of a model that calls person_key: reads the secret (64 bytes,
    HMAC-SHA256's block size) from the file DEFECTFLOW_PSEUDONYM_KEY names, which
    the build creates on first use; the warehouse never holds it. -#}
{% macro set_person_key() -%}
    {{ return(adapter.dispatch('set_person_key', 'defectflow')()) }}
{%- endmacro %}

{% macro duckdb__set_person_key() -%}
    {%- set path = env_var('DEFECTFLOW_PSEUDONYM_KEY', '') -%}
    {%- if path -%}
    set variable df_person_key = (
        select {
            'inner_pad': xor(content::bit, repeat('\x36', 64)::blob::bit)::blob,
            'outer_pad': xor(content::bit, repeat('\x5c', 64)::blob::bit)::blob
        }
        from read_blob('{{ path | replace("'", "''") }}')
    )
    {%- else -%}
    {#- an error when the model runs, not when the project is parsed or linted -#}
    select error('DEFECTFLOW_PSEUDONYM_KEY names no key file (pipelines/pseudonyms.py creates it)')
    {%- endif -%}
{%- endmacro %}

{#- One served deployment per (service, environment, finished_at): ties on
    finished_at break on started_at, then deployment_id (docs/metrics.md settled
    detail 3), so an as-of join has one candidate per instant. -#}
{#- A subquery that numbers the rows rather than qualify, which Spark lacks
    (issue 14); the same rows on DuckDB. -#}
{% macro latest_deployment_per_instant(deployments) -%}
    select service, environment, finished_at, release, deployment_id
    from (
        select
            service, environment, finished_at, release, deployment_id,
            row_number() over (
                partition by service, environment, finished_at
                order by started_at desc nulls last, deployment_id desc
            ) as instant_rank
        from {{ deployments }}
        where served
    ) as ranked_instants
    where instant_rank = 1
{%- endmacro %}

{#- Free text for marts: secrets, e-mails, IPs, then the people the exports
    name (assignees, reporters, actors, authors). The names pattern is a
    session variable set by `set_person_pattern()` in the model's pre-hook, so
    DuckDB compiles the regular expression once, not once per row. -#}
{% macro mask_text(expr) -%}
    regexp_replace({{ mask_pii(expr) }}, coalesce({{ person_pattern() }}, '[^\s\S]'), '[person]'{{ re_all() }})
{%- endmacro %}

{% macro set_person_pattern() -%}
    {%- if adapter is defined -%}
    {{ return(adapter.dispatch('set_person_pattern', 'defectflow')()) }}
    {%- else -%}
    {{ duckdb__set_person_pattern() }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__set_person_pattern() -%}
    set variable df_person_pattern = (select pattern from {{ ref('stg_exports__person_pattern') }})
{%- endmacro %}

{#- The names pattern mask_text reads (Spark: portable_text.sql). -#}
{% macro person_pattern() -%}
    {%- if adapter is defined -%}
    {{ return(adapter.dispatch('person_pattern', 'defectflow')()) }}
    {%- else -%}
    {{ duckdb__person_pattern() }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__person_pattern() -%}
    getvariable('df_person_pattern')
{%- endmacro %}

{#- Regular expression replacements that differ between the engines, written
    into a pattern's SQL text (a pattern cannot be a Jinja string argument:
    Jinja reads its backslashes). `re_all()` follows the replacement:
    DuckDB replaces the first match unless told `'g'`, Spark every match.
    `re_ref(n)` is group n in a replacement: `\n` in DuckDB, `$n` in Spark.
    Without dbt (pipelines/delivery/macros.py renders these files with Jinja
    alone, for DuckDB), the DuckDB form. -#}
{% macro re_all() -%}
    {%- if adapter is defined -%}
    {{ return(adapter.dispatch('re_all', 'defectflow')()) }}
    {%- else -%}
    {{ duckdb__re_all() }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__re_all() -%}
    , 'g'
{%- endmacro %}

{% macro re_ref(n) -%}
    {%- if adapter is defined -%}
    {{ return(adapter.dispatch('re_ref', 'defectflow')(n)) }}
    {%- else -%}
    {{ duckdb__re_ref(n) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__re_ref(n) -%}
    \{{ n }}
{%- endmacro %}

{#- Mean of a double, summed exactly. DuckDB's parallel avg over doubles adds
    in whatever order the threads finish, so two builds of the same data
    differed in the last digit (docs/metrics.md: identical tables); a decimal sum
    is integer arithmetic. Values are kept to 1e-9. -#}
{% macro mean(expr) -%}
    {{ return(adapter.dispatch('mean', 'defectflow')(expr)) }}
{%- endmacro %}

{% macro duckdb__mean(expr) -%}
    cast(avg(cast({{ expr }} as decimal(38, 9))) as double)
{%- endmacro %}

{#- Spark's avg of a decimal is a decimal rounded to 4 more places (14/3 ->
    4.6666666666667); DuckDB divides the exact sum in floating point, as this does. -#}
{% macro spark__mean(expr) -%}
    cast(sum(cast({{ expr }} as decimal(38, 9))) as double) / nullif(count({{ expr }}), 0)
{%- endmacro %}

{#- Non-empty ('spark') when dbt renders for Spark: for macros that take a
    `{% call %}` body or are rendered without dbt too, where adapter.dispatch
    cannot serve. Empty (false) for DuckDB and for Jinja alone. -#}
{% macro on_spark() -%}
    {%- if target is defined and target.type == 'spark' -%}spark{%- endif -%}
{%- endmacro %}
