{#-
    The combination of columns is unique. NULL is a value here: two rows that
    agree on every column, NULLs included, are duplicates (GROUP BY puts NULLs
    in one group, i.e. `is not distinct from` semantics). release_escape_rate
    relies on this: its unattributed rows have `release` NULL.
    Returns one row per duplicated combination.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns = combination_of_columns | join(', ') %}

select
    {{ columns }},
    count(*) as n_rows
from {{ model }}
group by {{ columns }}
having count(*) > 1

{% endtest %}
