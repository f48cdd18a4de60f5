{#-
    Every row-level rule of one model in one scan: each rule is a condition on
    a single row, so one select over the model finds every offending row, where
    one test per rule would scan the table (or recompute the view) per rule.
    Returns the offending rows whole, each with `failed_rules`: the names of the
    rules it breaks, `<rule>(<column or expression name>)` in the order below.

      not_null: [column, ...]              the column is not NULL
      accepted_values: {column: [v, ...]}  the column is one of the values (text); NULL passes
      accepted_range:                      the column lies between min_value and max_value
        column: {min_value: 0, max_value: 1, inclusive: true}
                                           (either bound optional); NULL passes
      not_after_as_of: [column, ...]       no value is after the build's as-of
                                           (docs/metrics.md, settled detail 1); NULL passes
      relationships:                       the value is one of `field`'s values in `to`; NULL passes
        column: {to: ref('model'), field: key}
      expression_is_true: {name: expr}     the boolean SQL expression holds; a NULL result
                                           FAILS: write the NULL case out, e.g. `x is null or x >= 0`

    A rule's severity is the test's: declare warning rules in a second
    row_rules test with `severity: warn`. pipelines/defs/quality/dbt_tests.py
    reads `failed_rules` to report each broken rule with its rows.
-#}
{% test row_rules(model, not_null=[], accepted_values={}, accepted_range={}, not_after_as_of=[],
                  relationships={}, expression_is_true={}) %}

{#- (name, the condition an offending row meets) per rule -#}
{%- set rules = [] %}
{%- for column in not_null %}
    {%- do rules.append(('not_null(' ~ column ~ ')', column ~ ' is null')) %}
{%- endfor %}
{%- for column, values in accepted_values.items() %}
    {%- set quoted = [] %}
    {%- for value in values %}
        {%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") %}
    {%- endfor %}
    {%- do rules.append(('accepted_values(' ~ column ~ ')', column ~ ' not in (' ~ quoted | join(', ') ~ ')')) %}
{%- endfor %}
{%- for column, bounds in accepted_range.items() %}
    {%- if bounds.get('min_value') is none and bounds.get('max_value') is none %}
        {{ exceptions.raise_compiler_error("row_rules accepted_range on " ~ model ~ "." ~ column ~ " needs min_value or max_value") }}
    {%- endif %}
    {%- set inclusive = bounds.get('inclusive', true) %}
    {%- set within = [] %}
    {%- if bounds.get('min_value') is not none %}
        {%- do within.append(column ~ (' >= ' if inclusive else ' > ') ~ bounds['min_value']) %}
    {%- endif %}
    {%- if bounds.get('max_value') is not none %}
        {%- do within.append(column ~ (' <= ' if inclusive else ' < ') ~ bounds['max_value']) %}
    {%- endif %}
    {%- do rules.append(('accepted_range(' ~ column ~ ')',
                         column ~ ' is not null and not (' ~ within | join(' and ') ~ ')')) %}
{%- endfor %}
{%- for column in not_after_as_of %}
    {#- min: a value after any as-of row fails, as a join with int_as_of would
        have it; int_as_of has exactly one row (its own test). -#}
    {%- do rules.append(('not_after_as_of(' ~ column ~ ')',
                         column ~ ' > (select min(as_of) from ' ~ ref('int_as_of') ~ ')')) %}
{%- endfor %}
{%- for column, parent in relationships.items() %}
    {#- NULL keys left out of the parent: `not in` a list holding NULL is never true -#}
    {%- do rules.append(('relationships(' ~ column ~ ')',
                         column ~ ' is not null and ' ~ column ~ ' not in (select ' ~ parent['field'] ~ ' from '
                         ~ parent['to'] ~ ' where ' ~ parent['field'] ~ ' is not null)')) %}
{%- endfor %}
{%- for name, expression in expression_is_true.items() %}
    {%- do rules.append(('expression_is_true(' ~ name ~ ')', 'not coalesce((' ~ expression ~ '), false)')) %}
{%- endfor %}
{%- if not rules %}
    {{ exceptions.raise_compiler_error("row_rules on " ~ model ~ " declares no rule") }}
{%- endif %}

{#- Each condition is written once, as a flag column, so a rule with a subquery
    joins its table once; the names are built only for the offending rows. -#}
select
    list_filter([
        {%- for name, condition in rules %}
        case when row_rule_{{ loop.index }} then '{{ name }}' end{{ ',' if not loop.last }}
        {%- endfor %}
    ], lambda rule: rule is not null) as failed_rules,
    * exclude (
        {%- for rule in rules %}
        row_rule_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
from (
    select
        *,
        {%- for name, condition in rules %}
        ({{ condition }}) as row_rule_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
) as checked
where
    {%- for rule in rules %}
    {{ 'or ' if not loop.first }}row_rule_{{ loop.index }}
    {%- endfor %}

{% endtest %}
